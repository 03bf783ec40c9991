"""The staff-app boundary: which clinic, which member, which permission (P1, P2, P3)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.audit.services import Actor, deny_later
from bookwell.core.context import clinic_context
from bookwell.tenancy.permissions import MFA_ENFORCEABLE_ROLES, Perm, role_has
from bookwell.tenancy.selectors import memberships_for_user

View = Callable[..., HttpResponseBase]


def _route_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.view_name if match else "") or "unknown"


def clinic_view(perm: Perm) -> Callable[[View], View]:
    """Declares the permission a staff view needs and runs it inside its clinic's context.

    A clinic the user is not a member of answers 404, like one that does not exist; a member
    without the permission gets 403.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, clinic_slug: str, *args: Any, **kwargs: Any) -> Any:
            # One query finds the clinic, the membership and the switcher's list together.
            memberships = memberships_for_user(request.user)  # type: ignore[arg-type]
            membership = next((m for m in memberships if m.clinic.slug == clinic_slug), None)
            if membership is None:  # not a member, or no such clinic: the same answer
                raise Http404("No such clinic")
            membership.user = request.user  # type: ignore[assignment]
            clinic = membership.clinic
            request.memberships = memberships  # type: ignore[attr-defined]
            # Times on staff pages are the clinic's wall clock.
            with clinic_context(clinic), timezone.override(ZoneInfo(clinic.time_zone)):
                if (
                    clinic.require_mfa_for_admins
                    and membership.role in MFA_ENFORCEABLE_ROLES
                    and not request.user.mfa_enabled  # type: ignore[union-attr]
                ):
                    messages.warning(
                        request,
                        _(
                            "%(clinic)s requires owners and admins to use an authenticator "
                            "app. Set it up to continue."
                        )
                        % {"clinic": clinic.name},
                    )
                    query = urlencode({"next": request.get_full_path()})
                    return redirect(f"{reverse('accounts:mfa')}?{query}")
                if not role_has(membership.role, perm):
                    deny_later(
                        request,
                        actor=Actor.user(request.user),
                        clinic_id=clinic.pk,
                        permission=perm.value,
                        route=_route_name(request),
                    )
                    raise PermissionDenied("Your role does not allow this.")
                request.clinic = clinic  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
                return view(request, *args, **kwargs)

        protected = login_required(wrapped)
        protected.bookwell_permission = perm  # type: ignore[attr-defined]
        return protected

    return decorate
