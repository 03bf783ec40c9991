"""Reads for the notifications pages."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from bookwell.notifications.models import Delivery, MessageTemplate, ReminderRule


def deliveries(*, status: str | None = None) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related(
        "appointment",
        "appointment__client",
        "appointment__service",
        "waitlist_offer__entry__client",
        "waitlist_offer__entry__service",
        "staff",
    ).order_by("-created_at", "pk")
    return qs.filter(status=status) if status else qs


def delivery_counts() -> dict[str, int]:
    return {
        row["status"]: row["n"]
        for row in Delivery.objects.values("status").annotate(n=Count("pk")).order_by()
    }


def reminder_rules() -> QuerySet[ReminderRule]:
    return ReminderRule.objects.order_by("minutes_before", "channel")


def own_templates() -> dict[tuple[str, str, str], MessageTemplate]:
    return {(t.kind, t.channel, t.language): t for t in MessageTemplate.objects.all()}
