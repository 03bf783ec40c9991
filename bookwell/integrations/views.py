"""Settings → API tokens: make one (its secret shown once), see them, revoke one."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookwell.core.access import access_in_clinic
from bookwell.core.errors import ServiceError
from bookwell.integrations.forms import TokenForm
from bookwell.integrations.models import ApiToken
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
    api_token_revoke(token=token)
    messages.success(request, _("Token %(prefix)s revoked.") % {"prefix": token.prefix})
    return redirect("integrations:tokens", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]
