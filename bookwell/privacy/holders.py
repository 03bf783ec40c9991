"""Where a client's data lives, and what the client's copy and an erasure do with each place
(P17).

Every model that refers to a client, holds a sealed field, or hangs off a booking or a place on
the waitlist is listed in HOLDERS or, with the reason, in NOT_ABOUT_CLIENTS;
tests/privacy/test_holders.py fails on a model that is in neither. The order of HOLDERS is the
order of an erasure: what depends on a row goes before it, the client record last.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import JSONField, Model, Q, QuerySet
from django_tasks_db.models import DBTaskResult

from bookwell.audit.models import AuditEvent
from bookwell.bookings.models import Appointment, RecurringSeries, WaitlistEntry, WaitlistOffer
from bookwell.clients.models import Client, ClientIndex, ConsentRecord
from bookwell.integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint
from bookwell.notifications.models import Delivery
from bookwell.payments.models import Payment, PaymentSettings, Refund
from bookwell.privacy.models import SubjectRequest
from bookwell.scheduling.models import DateOverride


class Erase(StrEnum):
    DELETE = "delete"  # the rows go
    ANONYMISE = "anonymise"  # the rows stay (the clinic's statistics), without the client
    SCRUB = "scrub"  # the rows stay; `scrub` takes the client's id out of their JSON
    KEEP = "keep"  # the rows stay as they are: they hold nothing of the client's once the
    # rows they hang off are anonymised (`kept` says why they must stay)


@dataclass(frozen=True)
class Holder:
    model: type[Model]
    name: str  # the entity's name in the client's copy
    paths: tuple[str, ...]  # lookups from a row to the client's id
    export: tuple[str, ...]  # what the copy holds of each row ("a__b" follows a relation)
    erase: Erase
    clear: tuple[str, ...] = ()  # Erase.ANONYMISE: what is emptied, the client link with it
    derived: str = ""  # why the copy leaves the rows out (export is empty)
    scrub: Callable[[QuerySet[Any]], int] | None = None  # Erase.SCRUB
    kept: str = ""  # Erase.KEEP: why the rows stay

    def rows(self, client_id: uuid.UUID) -> QuerySet[Any]:
        where = Q()
        for path in self.paths:
            head = path.split("__")[0]
            first = self.model._meta.pk if head == "pk" else self.model._meta.get_field(head)
            # In JSON the id is text; elsewhere a key.
            value = str(client_id) if isinstance(first, JSONField) else client_id
            where |= Q(**{path: value})
        return self.model._default_manager.filter(where).order_by("pk")

    def row(self, obj: Model) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.export:
            value: Any = obj
            for part in name.split("__"):
                value = None if value is None else getattr(value, part)
            out[name] = _plain(value)
        return out


def _scrub_event_payloads(rows: QuerySet[Any]) -> int:
    """Webhook events about the client keep their ids, times and statuses, but no longer
    name the client (an appointment's event would otherwise tie it back to them)."""
    count = 0
    for delivery in rows:
        payload = dict(delivery.payload or {})
        payload["data"] = {**(payload.get("data") or {}), "client_id": None}
        delivery.payload = payload
        delivery.save(update_fields=["payload", "updated_at"])
        count += 1
    return count


def _plain(value: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool | int | str | float) or value is None:
        return value
    if isinstance(value, list | dict):
        return value
    return str(value)


HOLDERS: list[Holder] = [
    Holder(
        Delivery,
        "messages",
        ("appointment__client", "waitlist_offer__entry__client"),
        ("kind", "channel", "status", "due_at", "sent_at", "skip_reason"),
        Erase.DELETE,
    ),
    Holder(
        WebhookDelivery,
        "webhook_events",
        ("payload__data__client_id",),
        ("event", "created_at", "status"),
        Erase.SCRUB,
        scrub=_scrub_event_payloads,
    ),
    Holder(
        WaitlistOffer,
        "waitlist_offers",
        ("entry__client",),
        ("entry_id", "start", "expires_at", "status"),
        Erase.DELETE,
    ),
    Holder(
        WaitlistEntry,
        "waitlist",
        ("client",),
        ("id", "service__name", "staff__display_name", "first_day", "last_day", "status"),
        Erase.DELETE,
    ),
    Holder(
        ClientIndex,
        "search_index",
        ("client",),
        (),
        Erase.DELETE,
        derived="keyed hashes of the name, email and phone the copy holds in the clear",
    ),
    Holder(
        ConsentRecord,
        "consents",
        ("client",),
        ("notice__version", "given_at", "method"),
        Erase.ANONYMISE,
        clear=("client",),
    ),
    Holder(
        RecurringSeries,
        "series",
        ("client",),
        ("first_start", "time_zone", "every_weeks", "count", "until"),
        Erase.ANONYMISE,
        clear=("client",),
    ),
    Holder(
        Refund,
        "refunds",
        ("payment__appointment__client",),
        ("payment_id", "amount_cents", "reason", "status", "created_at", "sent_at"),
        Erase.KEEP,
        kept="money paid back belongs to the clinic's accounts; amounts and reasons, tied to "
        "the client only through the appointment the erasure anonymises",
    ),
    Holder(
        Payment,
        "payments",
        ("appointment__client",),
        (
            "appointment_id",
            "kind",
            "amount_cents",
            "currency",
            "status",
            "method",
            "refunded_cents",
            "created_at",
            "paid_at",
        ),
        Erase.KEEP,
        kept="the clinic's accounts must keep payments; amounts, currency, status and the "
        "provider's ids, tied to the client only through the appointment the erasure "
        "anonymises",
    ),
    Holder(
        Appointment,
        "appointments",
        ("client",),
        (
            "id",
            "service__name",
            "staff__display_name",
            "start",
            "end",
            "status",
            "cancel_reason",
            "room__name",
            "series_id",
            "source",
            "note",
            "created_at",
        ),
        Erase.ANONYMISE,
        # Kept for the clinic's statistics: the service, staff member, times and status.
        clear=("client", "note", "manage_salt", "manage_token_hash", "request_fingerprint"),
    ),
    Holder(
        SubjectRequest,
        "privacy_requests",
        ("client",),
        ("kind", "status", "source", "received_on", "due_on", "completed_at"),
        Erase.ANONYMISE,
        clear=("client",),
    ),
    Holder(
        Client,
        "client",
        ("pk",),
        (
            "id",
            "full_name",
            "name_kind",
            "email",
            "phone",
            "date_of_birth",
            "preferred_language",
            "note",
            "marketing_consent",
            "sms_opt_out",
            "restricted",
            "created_at",
            "updated_at",
        ),
        Erase.DELETE,
    ),
]

# Models the test would otherwise ask about, and why they hold nothing of a client's.
NOT_ABOUT_CLIENTS: dict[type[Model], str] = {
    PaymentSettings: "its sealed fields are the clinic's Stripe keys",
    WebhookEndpoint: "its sealed field is the clinic's signing secret; its JSON, event names",
    DateOverride: "its JSON holds a staff member's working intervals",
    ApiToken: "its JSON holds the token's scopes",
    AuditEvent: (
        "ids and codes only (P7), append-only; a client's id there names no one once the "
        "record is erased"
    ),
    DBTaskResult: "background tasks take ids only (an outbox row's id), never personal data",
}
