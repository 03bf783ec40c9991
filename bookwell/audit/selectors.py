"""Reads of the audit trail for the clinic's own log page and export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from bookwell.audit.models import ActorKind, AuditEvent
from bookwell.tenancy.models import Clinic


def clinic_events(
    *,
    clinic: Clinic,
    action: str = "",
    actor_id: str = "",
    first: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The clinic's events, newest first (row security also limits this to the clinic)."""
    events = AuditEvent.objects.filter(clinic_id=clinic.pk).order_by("-seq")
    if action:
        events = events.filter(action=action)
    if actor_id:
        events = events.filter(actor_kind=ActorKind.USER, actor_id=actor_id)
    if first is not None:
        events = events.filter(at__gte=first)
    if until is not None:
        events = events.filter(at__lt=until)
    return events


def actor_names(*, clinic: Clinic, events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """Names for the actors on a page, resolved when shown: events hold ids only (P7)."""
    from bookwell.integrations.models import ApiToken
    from bookwell.tenancy.models import Membership

    users = {e.actor_id for e in events if e.actor_kind == ActorKind.USER and e.actor_id}
    tokens = {e.actor_id for e in events if e.actor_kind == ActorKind.API_TOKEN and e.actor_id}
    names: dict[tuple[str, str], str] = {}
    for user_id, name in Membership.objects.filter(
        clinic=clinic, user_id__in=[int(u) for u in users if u.isdigit()]
    ).values_list("user_id", "user__full_name"):
        names[(ActorKind.USER, str(user_id))] = name
    for token_id, name, prefix in ApiToken.objects.filter(
        pk__in=[int(t) for t in tokens if t.isdigit()]
    ).values_list("pk", "name", "prefix"):
        names[(ActorKind.API_TOKEN, str(token_id))] = f"{name} ({prefix})"
    return names


def member_choices(*, clinic: Clinic) -> list[tuple[str, Any]]:
    from bookwell.tenancy.models import Membership

    return [
        (str(user_id), name)
        for user_id, name in Membership.objects.filter(clinic=clinic)
        .order_by("user__full_name")
        .values_list("user_id", "user__full_name")
    ]
