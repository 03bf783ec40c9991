"""The clinic's payment set-up page (owners and admins)."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import audit, audit_settings_changed
from bookwell.bookings.models import Appointment
from bookwell.core.access import access_in_clinic
from bookwell.core.csvcells import safe_cell
from bookwell.core.dates import parse_day
from bookwell.core.errors import ServiceError
from bookwell.payments import services
from bookwell.payments.forms import PaymentSettingsForm
from bookwell.payments.models import Payment, PaymentSettings, RefundReason
from bookwell.tenancy import keyring
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm


def _last4(value: str) -> str:
    return f"…{value[-4:]}" if value else ""


@clinic_view(Perm.PAYMENTS_MANAGE)
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
            if form.cleaned_data["new_secret_key"] or form.cleaned_data["new_webhook_secret"]:
                row.key_version = keyring.active_version(clinic.pk)
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


# --- One appointment's payments, and the clinic's list -------------------------------------------


def _cents(raw: str) -> int | None:
    try:
        value = Decimal(raw.replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value <= 0 or value > 100000:
        return None
    return int((value * 100).to_integral_value())


def _back(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    return redirect(
        "bookings:appointment",
        clinic_slug=request.clinic.slug,  # type: ignore[attr-defined]
        appointment_id=appointment.pk,
    )


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def paid_in_person(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = access_in_clinic(Appointment, appointment_id)
    cents = _cents(request.POST.get("amount", ""))
    if cents is None:
        messages.error(request, _("Enter the amount paid, like 45.00."))
        return _back(request, appointment)
    try:
        services.payment_record_in_person(appointment=appointment, amount_cents=cents)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Payment recorded."))
    return _back(request, appointment)


@clinic_view(Perm.PAYMENTS_MANAGE)
@require_POST
def refund(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    payment = access_in_clinic(Payment, payment_id)
    appointment = access_in_clinic(Appointment, payment.appointment_id)
    cents = _cents(request.POST.get("amount", ""))
    if cents is None:
        messages.error(request, _("Enter the amount to refund, like 20.00."))
        return _back(request, appointment)
    try:
        services.refund_issue(payment=payment, amount_cents=cents, reason=RefundReason.STAFF)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Refund recorded; it is on its way to the client."))
    return _back(request, appointment)


def _range(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    first = parse_day(request.GET.get("from", "")) or today.replace(day=1)
    last = parse_day(request.GET.get("to", "")) or today
    if last < first:
        first, last = last, first
    return first, min(last, first + dt.timedelta(days=366))


@clinic_view(Perm.PAYMENTS_MANAGE)
@require_GET
def payments_list(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    first, last = _range(request)
    rows, totals = services.payments_between(clinic, first, last)
    if request.GET.get("format") == "csv":
        audit(
            Action.PAYMENTS_EXPORTED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLINIC,
            target_id=clinic.pk,
            extra={"rows": len(rows)},
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="payments-{first.isoformat()}-{last.isoformat()}.csv"'
        )
        response["Cache-Control"] = "no-store"
        writer = csv.writer(response)
        writer.writerow(
            [
                "paid_at",
                "appointment_id",
                "service",
                "kind",
                "method",
                "amount",
                "refunded",
                "currency",
                "status",
            ]
        )
        for p in rows:
            assert p.paid_at is not None
            writer.writerow(
                [
                    timezone.localtime(p.paid_at).isoformat(timespec="seconds"),
                    p.appointment_id,
                    safe_cell(p.appointment.service.name),
                    p.kind,
                    p.method,
                    f"{p.amount_cents / 100:.2f}",
                    f"{p.refunded_cents / 100:.2f}",
                    p.currency,
                    p.status,
                ]
            )
        return response
    return render(
        request,
        "payments/list.html",
        {"rows": rows, "totals": totals, "first": first, "last": last},
    )
