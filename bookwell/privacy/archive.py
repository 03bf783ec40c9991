"""A clinic's complete export (P15): every entity the clinic holds, as JSON and CSV, in one zip
with a manifest.

ENTITIES lists what goes in, and from each row every column but the ones named in `omit`
(secrets and internals, each with its reason in OMITTED); a new column is exported without
anyone remembering to. Models with clinic rows that stay out are in NOT_EXPORTED with the
reason; tests/privacy/test_clinic_export.py fails on a model in neither.

Rows are read in chunks and written straight into the zip, which streams into whatever file
object it is given: memory stays flat however big the clinic (bench/clinic_export.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db.models import Field, Model, QuerySet
from django.utils import timezone

from bookwell.audit.models import AuditEvent
from bookwell.bookings.models import (
    Appointment,
    CalendarStamp,
    RecurringSeries,
    WaitlistEntry,
    WaitlistOffer,
)
from bookwell.clients.models import Client, ClientIndex, ConsentRecord, PrivacyNotice
from bookwell.core.csvcells import safe_cell
from bookwell.integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint
from bookwell.notifications.models import CalendarFeed, Delivery, MessageTemplate, ReminderRule
from bookwell.payments.models import Payment, PaymentSettings, Refund
from bookwell.privacy.models import ClinicExport, SubjectRequest
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    Service,
    ServiceRoom,
    ServiceStaff,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.telemetry.models import UsageDay, UsageMonth
from bookwell.tenancy.models import Clinic, ClinicKey, Invitation, Membership, PlanUsage

SCHEMA_VERSION = 1
FORMAT = "bookwell-clinic-export"
CHUNK = 2000

# Columns no export carries, and why.
OMITTED: dict[str, str] = {
    "clinic": "every row is the clinic's; the manifest names it",
    "logo": "the logo is a file of its own in the archive",
    "token_hash": "a hash of a secret link; useless outside Bookwell",
    "manage_token_hash": "a hash of the client's manage link; useless outside Bookwell",
    "manage_salt": "part of the manage link's hash",
    "request_fingerprint": "a hash that makes retried API requests idempotent",
    "overlap_key": "an internal key of the double-booking constraint",
    "block_start": "the appointment's start less the service's buffer (derived)",
    "block_end": "the appointment's end plus the service's buffer (derived)",
    "digest": "a hash of the API token; the token itself is never stored",
    "secret": "the webhook signing secret",
    "secret_key": "the clinic's Stripe key",
    "webhook_secret": "the signing secret of the clinic's Stripe webhook",
    "checkout_url": "the address of Stripe's payment page, useless once paid or expired",
    "key_version": "which data key sealed the row's encrypted fields",
    "sequence": "an internal change counter for calendar sync",
    "lease_until": "a worker's hold on a message while sending it",
    "ip_hash": "a keyed hash of a masked address, comparable only inside Bookwell",
    "prev_hash": "the audit chain's link; verified inside Bookwell",
    "hash": "the audit chain's link; verified inside Bookwell",
}


@dataclass(frozen=True)
class Entity:
    model: type[Model]
    name: str  # the file names in the archive: <name>.json and <name>.csv
    omit: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # (column, attribute path) added to each row
    rows: Callable[[Clinic], QuerySet[Any]] | None = None  # default: the clinic's, by key

    def fields(self) -> list[Field[Any, Any]]:
        return [f for f in self.model._meta.concrete_fields if f.name not in self.omit]

    def columns(self) -> list[str]:
        return [f.attname for f in self.fields()] + [name for name, _ in self.extra]

    def queryset(self, clinic: Clinic) -> QuerySet[Any]:
        if self.rows is not None:
            return self.rows(clinic)
        qs = self.model._default_manager.filter(clinic_id=clinic.pk)
        related = sorted({path.rsplit("__", 1)[0] for _, path in self.extra})
        return (qs.select_related(*related) if related else qs).order_by("pk")


_TENANT = ("clinic",)
ENTITIES: list[Entity] = [
    Entity(
        Clinic,
        "clinic",
        omit=("logo",),
        rows=lambda clinic: Clinic.objects.filter(pk=clinic.pk),
    ),
    Entity(
        Membership,
        "team",
        omit=_TENANT,
        extra=(("user_email", "user__email"), ("user_full_name", "user__full_name")),
    ),
    Entity(Invitation, "invitations", omit=(*_TENANT, "token_hash")),
    Entity(Location, "locations", omit=_TENANT),
    Entity(Room, "rooms", omit=_TENANT),
    Entity(StaffMember, "staff", omit=_TENANT),
    Entity(Service, "services", omit=_TENANT),
    Entity(ServiceStaff, "service_staff", omit=_TENANT),
    Entity(ServiceRoom, "service_rooms", omit=_TENANT),
    Entity(WorkingHours, "working_hours", omit=_TENANT),
    Entity(DateOverride, "date_overrides", omit=_TENANT),
    Entity(TimeOff, "time_off", omit=_TENANT),
    Entity(ClinicClosure, "closures", omit=_TENANT),
    Entity(PrivacyNotice, "privacy_notices", omit=_TENANT),
    Entity(Client, "clients", omit=(*_TENANT, "key_version")),
    Entity(ConsentRecord, "consent_records", omit=_TENANT),
    Entity(RecurringSeries, "recurring_series", omit=_TENANT),
    Entity(
        Appointment,
        "appointments",
        omit=(
            *_TENANT,
            "overlap_key",
            "block_start",
            "block_end",
            "manage_salt",
            "manage_token_hash",
            "request_fingerprint",
            "key_version",
            "sequence",
        ),
    ),
    Entity(WaitlistEntry, "waitlist", omit=(*_TENANT, "manage_salt", "manage_token_hash")),
    Entity(WaitlistOffer, "waitlist_offers", omit=_TENANT),
    Entity(SubjectRequest, "privacy_requests", omit=_TENANT),
    Entity(MessageTemplate, "message_templates", omit=_TENANT),
    Entity(ReminderRule, "reminder_rules", omit=_TENANT),
    Entity(Delivery, "messages", omit=(*_TENANT, "lease_until")),
    Entity(CalendarFeed, "calendar_feeds", omit=(*_TENANT, "token_hash")),
    Entity(ApiToken, "api_tokens", omit=(*_TENANT, "digest")),
    Entity(WebhookEndpoint, "webhook_endpoints", omit=(*_TENANT, "secret", "key_version")),
    Entity(WebhookDelivery, "webhook_deliveries", omit=(*_TENANT, "lease_until")),
    Entity(Payment, "payments", omit=(*_TENANT, "checkout_url")),
    Entity(Refund, "refunds", omit=_TENANT),
    Entity(
        PaymentSettings,
        "payment_settings",
        omit=(*_TENANT, "secret_key", "webhook_secret", "key_version"),
    ),
    Entity(
        AuditEvent,
        "audit_log",
        omit=("ip_hash", "prev_hash", "hash"),
        rows=lambda clinic: AuditEvent.objects.filter(clinic_id=clinic.pk).order_by("seq"),
    ),
]

# Models with rows of a clinic that the export leaves out, and why.
NOT_EXPORTED: dict[type[Model], str] = {
    ClinicKey: "the clinic's data key, wrapped; the export holds the data in the clear",
    ClientIndex: "keyed hashes for search, of names and contacts the export holds in the clear",
    PlanUsage: "the platform's count of the clinic's use against its plan",
    UsageDay: "the platform's usage statistics (counts per feature and day)",
    UsageMonth: "the platform's usage statistics (counts per feature and month)",
    CalendarStamp: "a counter that tells calendar pages when to refresh",
    ClinicExport: "the record of the exports themselves",
}


def plain(value: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bool | int | str | float | list | dict) or value is None:
        return value
    if isinstance(value, bytes | memoryview):
        return None
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(value)


def _records(entity: Entity, clinic: Clinic) -> Iterator[list[Any]]:
    names = [f.attname for f in entity.fields()]
    paths = [path.split("__") for _, path in entity.extra]
    for obj in entity.queryset(clinic).iterator(chunk_size=CHUNK):
        row = [plain(getattr(obj, name)) for name in names]
        for parts in paths:
            value: Any = obj
            for part in parts:
                value = None if value is None else getattr(value, part)
            row.append(plain(value))
        yield row


class _Batched:
    """Collects small writes into ~64 KiB ones (a zip entry compresses per write)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, text: str) -> None:
        data = text.encode()
        self.parts.append(data)
        self.size += len(data)
        if self.size >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.out.write(b"".join(self.parts))
            self.parts, self.size = [], 0


def write_archive(
    clinic: Clinic,
    sink: IO[bytes],
    *,
    progress: Callable[[int], object] = lambda done: None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Writes the clinic's archive into `sink` (need not be seekable); calls `progress` with
    the rows written so far every chunk or so. Returns the manifest. Runs inside the clinic's
    context."""
    now = now or timezone.now()
    done = 0
    entities = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for entity in ENTITIES:
            columns = entity.columns()
            count = 0
            with zf.open(f"{entity.name}.json", "w") as raw:
                out = _Batched(raw)
                out.write("[")
                for row in _records(entity, clinic):
                    out.write(
                        ("\n" if count == 0 else ",\n")
                        + json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
                    )
                    count += 1
                    if count % CHUNK == 0:
                        progress(done + count)
                out.write("\n]\n")
                out.flush()
            done += count
            with zf.open(f"{entity.name}.csv", "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
                writer = csv.writer(text)
                writer.writerow(columns)
                written = 0
                for row in _records(entity, clinic):
                    writer.writerow([_cell(v) for v in row])
                    written += 1
                    if written % CHUNK == 0:
                        progress(done + written)
                text.flush()
                text.detach()
            done += written
            progress(done)
            entities.append(
                {
                    "name": entity.name,
                    "rows": count,
                    "files": [f"{entity.name}.json", f"{entity.name}.csv"],
                    "columns": columns,
                }
            )
        files = []
        if clinic.logo:
            extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
                clinic.logo_content_type, "bin"
            )
            zf.writestr(f"logo.{extension}", bytes(clinic.logo))
            files.append(f"logo.{extension}")
        manifest = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "clinic": {"id": clinic.pk, "slug": clinic.slug},
            "exported_at": now.astimezone(dt.UTC).isoformat(),
            "time_zone_of_times": "UTC",
            "entities": entities,
            "other_files": files,
            "omitted_columns": OMITTED,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def row_count(clinic: Clinic) -> int:
    """Rows the archive will hold (each is written twice: JSON and CSV)."""
    return sum(entity.queryset(clinic).count() for entity in ENTITIES)
