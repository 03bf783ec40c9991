from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from bookwell.tenancy.permissions import ROLE_PERMISSIONS, Role
from bookwell.tenancy.selectors import memberships_for_user


def clinic_nav(request: HttpRequest) -> dict[str, Any]:
    """The staff shell's navigation: the current clinic, what the role may do, the switcher."""
    clinic = getattr(request, "clinic", None)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if clinic is None or membership is None or user is None:
        return {}
    return {
        "clinic": clinic,
        "membership": membership,
        "perms": {p.value.replace(".", "_") for p in ROLE_PERMISSIONS[Role(membership.role)]},
        # Called by the template only when it draws the switcher.
        "switcher": lambda: [
            m
            for m in (getattr(request, "memberships", None) or memberships_for_user(user))
            if m.clinic_id != clinic.pk
        ],
    }
