"""Reads for clinics and memberships."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from bookwell.accounts.models import User
from bookwell.core.context import platform_scope
from bookwell.tenancy.models import Clinic, Invitation, Membership


def memberships_for_user(user: User) -> list[Membership]:
    """Every clinic the user belongs to (the clinic switcher): a platform read by design."""
    with platform_scope("a user's own memberships across clinics"):
        return list(
            Membership.objects.filter(user=user)
            .select_related("clinic")
            .defer("clinic__logo")  # the logo's bytes are served by their own view
            .order_by("clinic__name", "pk")
        )


def team_members(*, clinic: Clinic) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(clinic=clinic)
        .select_related("user")
        .order_by("user__full_name", "pk")
    )


def open_invitations(*, clinic: Clinic) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        clinic=clinic,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")
