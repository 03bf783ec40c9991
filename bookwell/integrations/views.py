"""Settings → API tokens: make one (its secret shown once), see them, revoke one."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.core.access import access_in_clinic
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.integrations import webhooks
from bookwell.integrations.forms import TokenForm, WebhookForm
from bookwell.integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint, WebhookEvent
from bookwell.integrations.scopes import SCOPE_LABELS, Scope
from bookwell.integrations.services import api_token_create, api_token_revoke
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm


def _page(request: HttpRequest, form: TokenForm, *, status: int = 200, **ctx: Any) -> HttpResponse:
    tokens = list(ApiToken.objects.select_related("created_by").order_by("-created_at"))
    for token in tokens:
        token.scope_labels = [
            SCOPE_LABELS.get(Scope(s), s) for s in token.scopes if s in Scope._value2member_map_
        ]
    return render(
        request,
        "integrations/tokens.html",
        {"form": form, "tokens": tokens, "now_utc": timezone.now(), **ctx},
        status=status,
    )


@clinic_view(Perm.API_MANAGE)
@require_http_methods(["GET", "POST"])
@never_cache  # the page that shows a new secret is never kept by a browser or proxy
def tokens(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = TokenForm(request.POST or None)
    if request.method == "GET":
        return _page(request, form)
    if not form.is_valid():
        return _page(request, form, status=400)
    expires_on = form.cleaned_data["expires_on"]
    expires_at = (
        dt.datetime.combine(
            expires_on + dt.timedelta(days=1), dt.time(), ZoneInfo(clinic.time_zone)
        )
        if expires_on
        else None
    )
    try:
        token, secret = api_token_create(
            clinic=clinic,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=expires_at,
            created_by=request.user,  # type: ignore[arg-type]
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, form, status=exc.status)
    # Shown on this response only: not put in the session or a message (P14).
    return _page(request, TokenForm(), made=token, secret=secret)


@clinic_view(Perm.API_MANAGE)
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = access_in_clinic(ApiToken, token_id)
    api_token_revoke(token=token, by=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Token %(prefix)s revoked.") % {"prefix": token.prefix})
    return redirect("integrations:tokens", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


# --- Webhooks -------------------------------------------------------------------------------


def _webhooks_page(
    request: HttpRequest, form: WebhookForm, *, status: int = 200, **ctx: Any
) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.order_by("created_at"))
    labels = dict(WebhookEvent.choices)
    for endpoint in endpoints:
        endpoint.event_labels = [labels.get(e, e) for e in endpoint.events]
    return render(
        request,
        "integrations/webhooks.html",
        {"form": form, "endpoints": endpoints, **ctx},
        status=status,
    )


@clinic_view(Perm.API_MANAGE)
@require_http_methods(["GET", "POST"])
@never_cache  # the page that shows a new signing secret is never kept
def webhooks_page(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "GET":
        return _webhooks_page(request, form)
    if not form.is_valid():
        return _webhooks_page(request, form, status=400)
    try:
        endpoint, secret = webhooks.endpoint_create(
            clinic=request.clinic,  # type: ignore[attr-defined]
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            include_contact=form.cleaned_data["include_contact"],
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _webhooks_page(request, form, status=400)
    return _webhooks_page(request, WebhookForm(), made=endpoint, secret=secret)


@clinic_view(Perm.API_MANAGE)
@require_GET
def webhook_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = access_in_clinic(WebhookEndpoint, endpoint_id)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-pk")[:100]
    return render(
        request,
        "integrations/webhook_detail.html",
        {"endpoint": endpoint, "deliveries": deliveries},
    )


@clinic_view(Perm.API_MANAGE)
@require_POST
def webhook_toggle(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = access_in_clinic(WebhookEndpoint, endpoint_id)
    webhooks.endpoint_set_active(endpoint=endpoint, active=not endpoint.active)
    if endpoint.active:
        messages.success(request, _("Webhook switched on."))
    else:
        messages.success(request, _("Webhook switched off."))
    clinic = request.clinic  # type: ignore[attr-defined]
    return redirect("integrations:webhook", clinic_slug=clinic.slug, endpoint_id=endpoint.pk)


@clinic_view(Perm.API_MANAGE)
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    webhooks.endpoint_delete(endpoint=access_in_clinic(WebhookEndpoint, endpoint_id))
    messages.success(request, _("Webhook removed."))
    return redirect("integrations:webhooks", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


@clinic_view(Perm.API_MANAGE)
@require_POST
def webhook_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access_in_clinic(WebhookDelivery, delivery_id)
    webhooks.redeliver(delivery=delivery)
    messages.success(request, _("The event will be sent again shortly."))
    return redirect(
        "integrations:webhook",
        clinic_slug=request.clinic.slug,  # type: ignore[attr-defined]
        endpoint_id=delivery.endpoint_id,
    )
