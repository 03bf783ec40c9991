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

from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import MFA_ENFORCEABLE_ROLES, Perm, role_has
from bookwell.tenancy.selectors import membership_of

View = Callable[..., HttpResponseBase]


def clinic_view(perm: Perm) -> Callable[[View], View]:
    """Declares the permission a staff view needs and runs it inside its clinic's context.

    A clinic the user is not a member of answers 404, like one that does not exist; a member
    without the permission gets 403.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, clinic_slug: str, *args: Any, **kwargs: Any) -> Any:
            clinic = Clinic.objects.filter(slug=clinic_slug).first()
            if clinic is None:
                raise Http404("No such clinic")
            # Times on staff pages are the clinic's wall clock.
            with clinic_context(clinic), timezone.override(ZoneInfo(clinic.time_zone)):
                membership = membership_of(user=request.user, clinic=clinic)  # type: ignore[arg-type]
                if membership is None:
                    raise Http404("No such clinic")
                if (
                    clinic.require_mfa_for_admins
                    and membership.role in MFA_ENFORCEABLE_ROLES
                    and not request.user.mfa_enabled  # type: ignore[union-attr]
                ):
                    messages.warning(
                        request,
                        f"{clinic.name} requires owners and admins to use an authenticator app. "
                        "Set it up to continue.",
                    )
                    query = urlencode({"next": request.get_full_path()})
                    return redirect(f"{reverse('accounts:mfa')}?{query}")
                if not role_has(membership.role, perm):
                    raise PermissionDenied("Your role does not allow this.")
                request.clinic = clinic  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
                return view(request, *args, **kwargs)

        protected = login_required(wrapped)
        protected.bookwell_permission = perm  # type: ignore[attr-defined]
        return protected

    return decorate
