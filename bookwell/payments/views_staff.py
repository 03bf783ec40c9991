"""The clinic's payment set-up page (owners and admins)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from bookwell.audit.services import audit_settings_changed
from bookwell.payments.forms import PaymentSettingsForm
from bookwell.payments.models import PaymentSettings
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm


def _last4(value: str) -> str:
    return f"…{value[-4:]}" if value else ""


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def payment_settings(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    current = PaymentSettings.objects.filter(clinic=clinic).first() or PaymentSettings(
        clinic=clinic
    )
    form = PaymentSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            row = form.save(commit=False)
            changed = list(form.changed_data)
            if form.cleaned_data["new_secret_key"]:
                row.secret_key = form.cleaned_data["new_secret_key"]
            if form.cleaned_data["new_webhook_secret"]:
                row.webhook_secret = form.cleaned_data["new_webhook_secret"]
            row.clinic = clinic
            row.full_clean()
            row.save()
            audit_settings_changed(
                clinic_id=clinic.pk,
                section="payments",
                fields=[f.removeprefix("new_") for f in changed],
            )
        messages.success(request, _("Payment settings saved."))
        return redirect("payments:settings", clinic_slug=clinic.slug)
    endpoint = (
        settings.BASE_URL + reverse("payments:stripe-webhook", kwargs={"endpoint_id": current.pk})
        if current.pk and not current._state.adding
        else ""
    )
    return render(
        request,
        "payments/settings.html",
        {
            "form": form,
            "key_hint": _last4(current.secret_key),
            "secret_hint": _last4(current.webhook_secret),
            "endpoint": endpoint,
        },
        status=400 if request.method == "POST" else 200,
    )
