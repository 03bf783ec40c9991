"""Clients' rights (P17): recording their requests, a copy of their data, erasure, and
restriction of processing.

The copy and the erasure walk privacy.holders, which lists every place a client's data lives;
what an erasure keeps (appointments, for the clinic's statistics) it keeps without the client.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import audit
from bookwell.bookings.models import BLOCKING, Appointment
from bookwell.bookings.services import appointment_cancel
from bookwell.clients.models import Client
from bookwell.core.csvcells import safe_cell
from bookwell.core.errors import Conflict, ServiceError
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.privacy.clinic_data import exports_withdraw
from bookwell.privacy.holders import HOLDERS, Erase
from bookwell.privacy.models import (
    DUE_DAYS,
    RequestKind,
    RequestSource,
    RequestStatus,
    SubjectRequest,
)
from bookwell.tenancy.fields import EncryptedTextField
from bookwell.tenancy.models import Clinic

COPY_SCHEMA = 1


# --- Requests ----------------------------------------------------------------------------------


def subject_request_record(
    *,
    clinic: Clinic,
    client: Client,
    kind: str,
    source: str = RequestSource.STAFF,
    received_on: dt.date | None = None,
    actor: User | None = None,
) -> SubjectRequest:
    """Records that the client asked for one of their rights; due a month after it came in."""
    if kind not in RequestKind.values:
        raise ServiceError(_("Choose what the client asked for."), code="bad_kind")
    today = timezone.localdate(timezone=ZoneInfo(clinic.time_zone))
    received_on = received_on or today
    if received_on > today:
        raise ServiceError(_("A request cannot come in after today."), code="future_request")
    if received_on < today - dt.timedelta(days=365):
        raise ServiceError(_("That date is more than a year ago."), code="old_request")
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            clinic=clinic,
            client=client,
            kind=kind,
            source=source,
            received_on=received_on,
            due_on=received_on + dt.timedelta(days=DUE_DAYS),
            created_by=actor,
        )
        audit(
            Action.PRIVACY_REQUEST_RECORDED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLIENT,
            target_id=client.pk,
            extra={"kind": kind, "source": source},
        )
    return request


def subject_request_from_link(*, clinic: Clinic, client: Client, kind: str) -> bool:
    """A client asks from their manage link (the link proves who they are): a copy of their
    data, or its erasure. Asking again while the same request is open records nothing new.
    Returns whether a request was recorded."""
    if kind not in (RequestKind.ACCESS, RequestKind.ERASURE):
        raise ServiceError(_("Choose what you are asking for."), code="bad_kind")
    with transaction.atomic():
        # The client's row, locked: two clicks at once record one request (and an erasure
        # that got there first leaves nothing to ask about).
        if not Client.objects.select_for_update().filter(pk=client.pk).exists():
            return False
        if open_request(client, kind) is not None:
            return False
        subject_request_record(clinic=clinic, client=client, kind=kind, source=RequestSource.CLIENT)
    return True


def subject_request_close(
    *,
    clinic: Clinic,
    request: SubjectRequest,
    status: str = RequestStatus.DONE,
    actor: User | None = None,
) -> SubjectRequest:
    """Marks a request answered (or withdrawn by the client)."""
    if status not in (RequestStatus.DONE, RequestStatus.WITHDRAWN):
        raise ServiceError(_("Choose how the request ended."), code="bad_status")
    with transaction.atomic():
        # Locked, so two people closing it at once record it once.
        current = SubjectRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != RequestStatus.OPEN:
            raise Conflict(_("This request is closed already."), code="request_closed")
        current.status = status
        current.completed_at = timezone.now()
        current.completed_by = actor
        current.save(update_fields=["status", "completed_at", "completed_by"])
        audit(
            Action.PRIVACY_REQUEST_CLOSED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLIENT,
            target_id=current.client_id or "",
            extra={"kind": current.kind, "status": status},
        )
    return current


def open_request(client: Client, kind: str) -> SubjectRequest | None:
    """The client's oldest open request of this kind, which carrying it out answers."""
    return (
        SubjectRequest.objects.filter(client=client, kind=kind, status=RequestStatus.OPEN)
        .order_by("received_on", "created_at")
        .first()
    )


# --- The client's copy (access and portability) ---------------------------------------------


def client_copy(*, clinic: Clinic, client: Client) -> dict[str, Any]:
    """Everything the clinic holds about the client, entity by entity, in plain values."""
    data: dict[str, list[dict[str, Any]]] = {}
    for holder in HOLDERS:
        if holder.export:
            data[holder.name] = [holder.row(obj) for obj in holder.rows(client.pk)]
    return {
        "schema_version": COPY_SCHEMA,
        "clinic": {"id": clinic.pk, "name": clinic.name},
        "generated_at": timezone.now().isoformat(),
        "data": data,
    }


def client_copy_download(
    *, clinic: Clinic, client: Client, fmt: str, via: str = "page"
) -> tuple[bytes, str]:
    """The copy as a file (`json`, or `zip`: the JSON and one CSV per entity) and its media
    type; the download is recorded."""
    copy = client_copy(clinic=clinic, client=client)
    as_json = json.dumps(copy, ensure_ascii=False, indent=2).encode()
    if fmt == "json":
        body, media = as_json, "application/json"
    elif fmt == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", as_json)
            for name, rows in copy["data"].items():
                archive.writestr(f"{name}.csv", _csv(rows))
        body, media = buffer.getvalue(), "application/zip"
    else:
        raise ServiceError(_("Choose JSON or a zip of CSV files."), code="bad_format")
    audit(
        Action.CLIENT_COPY_DOWNLOADED,
        clinic_id=clinic.pk,
        target_kind=TargetKind.CLIENT,
        target_id=client.pk,
        extra={"format": fmt, "via": via},
    )
    return body, media


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_cell("" if v is None else str(v)) for k, v in row.items()})
    return out.getvalue()


# --- Erasure -----------------------------------------------------------------------------------


def client_erase(
    *,
    clinic: Clinic,
    client: Client,
    actor: User | None = None,
    request: SubjectRequest | None = None,
) -> dict[str, int]:
    """Deletes the client's data: the record, its search index, messages, waitlist places and
    manage links; appointments, consents and series stay for the clinic's statistics and
    records, without the client. Answers `request` when given. Returns rows touched by
    entity."""
    touched: dict[str, int] = {}
    with transaction.atomic():
        # Locked first: an edit or a booking for this client waits, then finds it gone.
        if not Client.objects.select_for_update().filter(pk=client.pk).exists():
            raise Conflict(_("This client's data is erased already."), code="erased")
        # Their upcoming appointments are cancelled (the time is free again); past ones stay
        # for the clinic's statistics.
        # Through the booking service: the webhook event, and the freed time offered to the
        # waitlist (the events' client id is scrubbed below with the others).
        upcoming = Appointment.objects.filter(
            client=client, start__gt=timezone.now(), status__in=BLOCKING
        ).select_related("clinic", "service", "staff")
        touched["cancelled"] = 0
        for appointment in upcoming.order_by("start"):
            appointment_cancel(appointment=appointment, by_client=False, for_erasure=True)
            touched["cancelled"] += 1
        for holder in HOLDERS:
            rows = holder.rows(client.pk)
            if holder.erase == Erase.DELETE:
                deleted, _by_model = rows.delete()
                touched[holder.name] = deleted
                continue
            if holder.erase == Erase.SCRUB:
                assert holder.scrub is not None
                touched[holder.name] = holder.scrub(rows)
                continue
            if holder.erase == Erase.KEEP:
                continue
            touched[holder.name] = _anonymise(rows, holder.clear)
        audit(
            Action.CLIENT_ERASED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLIENT,
            target_id=client.pk,
            extra={"rows": sum(touched.values())},
        )
        if request is not None:
            _close_if_open(clinic, request, actor)
        # Clinic exports made before hold the client: they go too.
        exports_withdraw(clinic)
    return touched


def _close_if_open(clinic: Clinic, request: SubjectRequest, actor: User | None) -> None:
    """Answers the request that asked for what was just done, unless someone closed it
    meanwhile (two people at once: the action counts, the request closes once)."""
    still_open = SubjectRequest.objects.select_for_update().filter(
        pk=request.pk, status=RequestStatus.OPEN
    )
    if still_open.exists():
        subject_request_close(clinic=clinic, request=request, actor=actor)


def _anonymise(rows: QuerySet[Any], fields: tuple[str, ...]) -> int:
    """Empties `fields` of the rows: in one statement, or row by row where one of them is
    sealed (a sealed value is written through its instance)."""
    model = rows.model
    empty: dict[str, Any] = {}
    sealed = False
    for name in fields:
        field = model._meta.get_field(name)
        sealed = sealed or isinstance(field, EncryptedTextField)
        empty[field.attname] = None if field.is_relation or field.null else ""
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        empty["updated_at"] = timezone.now()  # what a save() stamps: sync sees the change
    if not sealed:
        return rows.update(**empty)
    stamped = [*fields, *(["updated_at"] if "updated_at" in empty else [])]
    count = 0
    for obj in rows:
        for attname, value in empty.items():
            if attname != "updated_at":
                setattr(obj, attname, value)
        obj.save(update_fields=stamped)  # auto_now stamps updated_at (incremental sync)
        count += 1
    return count


# --- Restriction -------------------------------------------------------------------------------


def client_restrict(
    *,
    clinic: Clinic,
    client: Client,
    actor: User | None = None,
    request: SubjectRequest | None = None,
) -> Client:
    """Restricts processing: the record turns read-only, takes no new bookings and gets no
    messages until the restriction is lifted."""
    with transaction.atomic():
        _set_restricted(
            clinic,
            client,
            True,
            Action.CLIENT_RESTRICTED,
            Conflict(_("This record is restricted already."), code="restricted"),
        )
        if request is not None:
            _close_if_open(clinic, request, actor)
    return client


def _set_restricted(
    clinic: Clinic, client: Client, value: bool, action: str, unchanged: ServiceError
) -> None:
    """Flips the flag if it is not set that way already (one conditional UPDATE: two people at
    once, one wins), tells the webhooks and records it."""
    changed = Client.objects.filter(pk=client.pk, restricted=not value).update(
        restricted=value, updated_at=timezone.now()
    )
    if not changed:
        raise unchanged
    client.restricted = value
    webhooks.emit(clinic, WebhookEvent.CLIENT_UPDATED, webhooks.client_data(client))
    audit(action, clinic_id=clinic.pk, target_kind=TargetKind.CLIENT, target_id=client.pk)


def client_unrestrict(
    *, clinic: Clinic, client: Client, client_told: bool, actor: User | None = None
) -> Client:
    """Lifts a restriction, once staff confirm the client was told first (GDPR Art. 18(3))."""
    if not client_told:
        raise ServiceError(
            _("Confirm that the client was told before the restriction is lifted."),
            code="client_not_told",
        )
    with transaction.atomic():
        _set_restricted(
            clinic,
            client,
            False,
            Action.CLIENT_RESTRICTION_LIFTED,
            Conflict(_("This record is not restricted."), code="not_restricted"),
        )
    return client
