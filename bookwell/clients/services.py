"""Writes for clients and consent (P4, P14, P18, P22)."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookwell.accounts.models import User
from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import audit, audit_settings_changed
from bookwell.clients import blind
from bookwell.clients.models import (
    Client,
    ClientIndex,
    ConsentMethod,
    ConsentRecord,
    IndexKind,
    NameKind,
    PrivacyNotice,
)
from bookwell.clients.normalize import normalize_email, normalize_phone
from bookwell.core.context import NoActiveClinic, require_clinic_id
from bookwell.core.errors import Conflict
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic

MAX_NAME = 120
MAX_EMAIL = 254
MAX_NOTE = 500
LANGUAGES = {"en", "de", "fr", "es"}

DUPLICATE_EMAIL = "A client with this email already exists."


@dataclass
class ClientInput:
    """What staff (or an import row) give for a client, before normalising."""

    full_name: str
    email: str = ""
    phone: str = ""
    name_kind: str = NameKind.FULL
    date_of_birth: str = ""
    preferred_language: str = "en"
    note: str = ""
    marketing_consent: bool = False


@dataclass
class CleanClient:
    full_name: str
    email: str
    phone: str
    name_kind: str
    date_of_birth: str
    preferred_language: str
    note: str
    marketing_consent: bool
    errors: dict[str, list[str]] = field(default_factory=dict)


def client_clean(
    *, clinic: Clinic, data: ClientInput, existing: Client | None = None
) -> CleanClient:
    """Validates and normalises; errors are collected per field, nothing raised."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    full_name = " ".join(data.full_name.split())
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in full_name):
        err("full_name", _("Use a single line without control characters."))
    elif not full_name:
        err("full_name", _("Enter the client's name."))
    elif len(full_name) > MAX_NAME:
        err("full_name", f"Use at most {MAX_NAME} characters.")
    name_kind = data.name_kind or NameKind.FULL
    if name_kind not in NameKind.values:
        err("name_kind", "Choose how the name is given.")
    elif (
        name_kind != NameKind.FULL
        and not clinic.allow_pseudonyms
        and not (existing is not None and existing.name_kind == name_kind)
    ):
        err("name_kind", "This clinic asks for clients' full names.")

    email = ""
    if len(data.email.strip()) > MAX_EMAIL:
        err("email", f"Use at most {MAX_EMAIL} characters.")
    else:
        try:
            email = normalize_email(data.email)
        except ValidationError:
            err("email", _("Enter a valid email address."))
    phone = ""
    if len(data.phone) > 40:
        err("phone", _("Enter a valid phone number."))
    else:
        try:
            phone = normalize_phone(data.phone, clinic.country)
        except ValidationError:
            err("phone", _("Enter a valid phone number, e.g. +49 30 1234567."))

    dob = data.date_of_birth.strip()
    if dob:
        if not clinic.collect_date_of_birth and not (
            existing is not None and existing.date_of_birth == dob
        ):
            err("date_of_birth", "This clinic does not collect dates of birth.")
        else:
            try:
                parsed = dt.date.fromisoformat(dob)
            except ValueError:
                err("date_of_birth", "Enter a date as YYYY-MM-DD.")
            else:
                if not dt.date(1900, 1, 1) <= parsed <= timezone.localdate():
                    err("date_of_birth", "Enter a date of birth in the past.")
                dob = parsed.isoformat()

    language = data.preferred_language or "en"
    if language not in LANGUAGES:
        err("preferred_language", "Choose a language from the list.")
    note = data.note.strip()
    if len(note) > MAX_NOTE:
        err("note", f"Keep the note under {MAX_NOTE} characters.")
    return CleanClient(
        full_name=full_name,
        email=email,
        phone=phone,
        name_kind=name_kind,
        date_of_birth=dob,
        preferred_language=language,
        note=note,
        marketing_consent=bool(data.marketing_consent),
        errors=errors,
    )


def duplicate_email_exists(*, clinic: Clinic, email: str, exclude: Client | None = None) -> bool:
    if not email:
        return False
    qs = blind.matching_entries(clinic_id=clinic.pk, kind=IndexKind.EMAIL, value=email)
    if exclude is not None:
        qs = qs.exclude(client_id=exclude.pk)
    return qs.exists()


IndexRow = tuple[int, uuid.UUID, str, str, int, str | None]


def _index_rows(client: Client, clinic: Clinic, key: keyring.DataKey) -> list[IndexRow]:
    """(clinic, client, kind, digest, key version, unique digest) for each index entry."""
    rows: list[IndexRow] = []
    for kind, digest in blind.entries_for(
        key=key, full_name=client.full_name, email=client.email, phone=client.phone
    ):
        unique = digest if kind == IndexKind.EMAIL and clinic.client_email_unique else None
        rows.append((clinic.pk, client.pk, kind, digest, key.version, unique))
    return rows


def index_insert(rows: list[IndexRow]) -> None:
    """Writes index entries in one statement per batch.

    A hot path (imports write ~15 entries per client), so it skips model instances. It only
    writes rows of the active clinic; on PostgreSQL row-level security checks that too.
    """
    clinic_id = require_clinic_id()
    if any(r[0] != clinic_id for r in rows):
        raise NoActiveClinic("index rows for another clinic")
    table = ClientIndex._meta.db_table
    sql = (
        f"INSERT INTO {table} (clinic_id, client_id, kind, digest, key_version, unique_digest) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    uuid_as = (lambda u: u.hex) if connection.vendor == "sqlite" else (lambda u: u)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                sql,
                [(r[0], uuid_as(r[1]), r[2], r[3], r[4], r[5]) for r in rows[start : start + 5000]],
            )


def _apply(client: Client, clean: CleanClient) -> None:
    client.full_name = clean.full_name
    client.name_kind = clean.name_kind
    client.email = clean.email
    client.phone = clean.phone
    client.date_of_birth = clean.date_of_birth
    client.preferred_language = clean.preferred_language
    client.note = clean.note
    client.marketing_consent = clean.marketing_consent


def _check(clinic: Clinic, clean: CleanClient, exclude: Client | None = None) -> None:
    errors = dict(clean.errors)
    if (
        not errors
        and clinic.client_email_unique
        and duplicate_email_exists(clinic=clinic, email=clean.email, exclude=exclude)
    ):
        errors["email"] = [DUPLICATE_EMAIL]
    if errors:
        raise ValidationError(errors)


def _save_with_index(client: Client, clinic: Clinic) -> None:
    try:
        with transaction.atomic(), keyring.pinned_active_key(clinic.pk) as key:
            client.save()
            ClientIndex.objects.filter(client=client).delete()
            index_insert(_index_rows(client, clinic, key))
    except IntegrityError as exc:  # lost a race on a unique email
        raise ValidationError({"email": [DUPLICATE_EMAIL]}) from exc


def client_create(
    *,
    clinic: Clinic,
    data: ClientInput,
    actor: User | None = None,
    consent_notice: PrivacyNotice | None = None,
    consent_method: str = ConsentMethod.STAFF,
) -> Client:
    clean = client_clean(clinic=clinic, data=data)
    _check(clinic, clean)
    client = Client(clinic=clinic, key_version=keyring.active_version(clinic.pk))
    _apply(client, clean)
    with transaction.atomic():
        _save_with_index(client, clinic)
        webhooks.emit(clinic, WebhookEvent.CLIENT_CREATED, webhooks.client_data(client))
        audit(
            Action.CLIENT_CREATED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLIENT,
            target_id=client.pk,
        )
        if consent_notice is not None:
            consent_record(
                clinic=clinic,
                client=client,
                notice=consent_notice,
                method=consent_method,
                actor=actor,
            )
    return client


def client_update(*, clinic: Clinic, client: Client, data: ClientInput) -> Client:
    if client.restricted:
        raise Conflict(_("This client's record is restricted and read-only."), code="restricted")
    clean = client_clean(clinic=clinic, data=data, existing=client)
    _check(clinic, clean, exclude=client)
    _apply(client, clean)
    with transaction.atomic():
        # The row as it is now, locked: a restriction or an erasure (P17) that committed since
        # the record was read must not be undone by this save.
        now = Client.objects.select_for_update().filter(pk=client.pk).values("restricted").first()
        if now is None:
            raise Conflict(_("This client's record was erased."), code="erased")
        if now["restricted"]:
            raise Conflict(
                _("This client's record is restricted and read-only."), code="restricted"
            )
        _save_with_index(client, clinic)
        webhooks.emit(clinic, WebhookEvent.CLIENT_UPDATED, webhooks.client_data(client))
        audit(
            Action.CLIENT_UPDATED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLIENT,
            target_id=client.pk,
        )
    return client


def client_viewed(*, client: Client, via: str) -> None:
    """Someone opened the client's record (a page or the API): clinics must be able to say
    who looked at whose record."""
    audit(
        Action.CLIENT_VIEWED,
        clinic_id=client.clinic_id,
        target_kind=TargetKind.CLIENT,
        target_id=client.pk,
        extra={"via": via},
    )


def clients_listed(*, clinic_id: int, via: str, rows: int) -> None:
    """Client records read many at once (the API's list and search): how many, not whose."""
    audit(Action.CLIENTS_LISTED, clinic_id=clinic_id, extra={"via": via, "rows": rows})


# --- Privacy notices and consent (P18, P22) ---------------------------------------------------


def privacy_notice_publish(
    *, clinic: Clinic, body: str, actor: User | None = None, effective_at: dt.datetime | None = None
) -> PrivacyNotice:
    body = body.strip()
    if not body:
        raise ValidationError({"body": [_("Write the notice text.")]})
    with transaction.atomic():
        latest = (
            PrivacyNotice.objects.select_for_update()
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        effective = effective_at or timezone.now()
        newest = PrivacyNotice.objects.order_by("-version").first()
        if newest is not None and effective < newest.effective_at:
            raise ValidationError(
                {
                    "effective_at": [
                        _(
                            "Version %(version)s takes effect on %(when)s UTC; a newer version "
                            "cannot take effect before it."
                        )
                        % {
                            "version": newest.version,
                            "when": f"{newest.effective_at:%Y-%m-%d %H:%M}",
                        }
                    ]
                }
            )
        notice = PrivacyNotice(
            clinic=clinic,
            version=(latest or 0) + 1,
            body=body,
            effective_at=effective,
            created_by=actor,
        )
        notice.full_clean()
        notice.save()
        audit_settings_changed(clinic_id=clinic.pk, section="privacy_notice", fields=["version"])
    return notice


def privacy_notice_current(*, clinic: Clinic) -> PrivacyNotice | None:
    # The newest version already in effect (versions take effect in order, see publish).
    return (
        PrivacyNotice.objects.filter(effective_at__lte=timezone.now()).order_by("-version").first()
    )


def consent_record(
    *,
    clinic: Clinic,
    client: Client,
    notice: PrivacyNotice,
    method: str,
    actor: User | None = None,
) -> ConsentRecord:
    if method not in ConsentMethod.values:
        raise ValidationError({"method": [_("Unknown consent method.")]})
    record = ConsentRecord(
        clinic=clinic,
        client=client,
        notice=notice,
        given_at=timezone.now(),
        method=method,
        recorded_by=actor,
    )
    record.full_clean()
    record.save()
    return record


def client_email_uniqueness_apply(*, clinic: Clinic, unique: bool) -> None:
    """Makes the database enforce (or stop enforcing) one client per email for the clinic.

    Turning it on while clients share an email is refused with the count: merge or correct
    them first. Part of the settings change's transaction.
    """
    entries = ClientIndex.objects.filter(kind=IndexKind.EMAIL)
    if not unique:
        entries.update(unique_digest=None)
        return
    try:
        with transaction.atomic():
            entries.update(unique_digest=F("digest"))
    except IntegrityError as exc:
        shared = entries.values("digest").annotate(n=Count("id")).filter(n__gt=1).count()
        raise ValidationError(
            {
                "client_email_unique": [
                    ngettext(
                        "%(n)s email address is shared by more than one client. Correct or "
                        "merge those clients first.",
                        "%(n)s email addresses are shared by more than one client. Correct or "
                        "merge those clients first.",
                        shared,
                    )
                    % {"n": shared}
                ]
            }
        ) from exc
