"""A clinic can be deleted (P16): the owner asks (password and the clinic's name), a grace
period with reminders follows and can be cancelled; then every row of the clinic goes and its
keys' secrets are destroyed, so a copy of the database taken before cannot be read."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from bookwell.audit.models import Action, AuditEvent, ChainHead
from bookwell.clients.models import Client
from bookwell.clients.services import ClientInput, client_create
from bookwell.core import crypto
from bookwell.core.context import clinic_context, platform_scope
from bookwell.privacy.clinic_data import (
    clinic_deletion_request,
    clinic_deletions_run,
    clinic_models,
    clinic_purge,
)
from bookwell.tenancy import keyring, keystore
from bookwell.tenancy.fields import _aad_for
from bookwell.tenancy.models import Clinic, ClinicKey
from bookwell.tenancy.permissions import Role
from tests.factories import PASSWORD, make_member
from tests.security.registry import TENANT_ROW_FACTORIES


def _center(clinic, tail=""):
    return f"/c/{clinic.slug}/privacy/{tail}"


def _fresh(clinic: Clinic) -> Clinic:
    with platform_scope("test: read the clinic again"):
        return Clinic.objects.get(pk=clinic.pk)


def _ask(page, clinic, **overrides):
    data = {"name": clinic.name, "password": PASSWORD, **overrides}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return page.post(_center(clinic, "delete/"), data)


@pytest.mark.django_db
def test_the_owner_asks_with_password_and_name_and_can_cancel(clinic_a, member_client):
    first_owner, owner = member_client(clinic_a, Role.OWNER)
    second_owner = make_member(clinic_a, Role.OWNER)

    wrong = _ask(owner, clinic_a, password="not my password")
    assert wrong.status_code == 400 and "password was not correct" in wrong.content.decode()
    typo = _ask(owner, clinic_a, name=clinic_a.name + "x")
    assert typo.status_code == 400 and "name exactly" in typo.content.decode()
    assert _fresh(clinic_a).deletion_due_at is None and mail.outbox == []

    before = timezone.now()
    assert _ask(owner, clinic_a).status_code == 302
    clinic = _fresh(clinic_a)
    assert clinic.deletion_due_at is not None
    grace = clinic.deletion_due_at - before
    assert dt.timedelta(days=14) <= grace < dt.timedelta(days=14, minutes=1)
    # Every owner is told, with the way back.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([first_owner.email, second_owner.email])
    assert f"/c/{clinic_a.slug}/privacy/" in mail.outbox[0].body
    # Everyone on the team sees it; asking again is refused clearly.
    _, desk = member_client(clinic_a, Role.FRONT_DESK)
    assert "scheduled for deletion" in desk.get(f"/c/{clinic_a.slug}/").content.decode()
    again = owner.post(_center(clinic_a, "delete/"), {"name": clinic_a.name, "password": PASSWORD})
    assert again.status_code == 302
    assert "already scheduled" in owner.get(_center(clinic_a)).content.decode()
    assert _fresh(clinic_a).deletion_due_at == clinic.deletion_due_at

    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert owner.post(_center(clinic_a, "delete/cancel/")).status_code == 302
    assert _fresh(clinic_a).deletion_due_at is None
    assert len(mail.outbox) == 2 and "will not be deleted" in mail.outbox[0].subject
    with clinic_context(clinic_a):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {Action.CLINIC_DELETION_REQUESTED, Action.CLINIC_DELETION_CANCELLED} <= actions
    # Nothing past the grace period any more: the job leaves the clinic alone.
    assert clinic_deletions_run(now=timezone.now() + dt.timedelta(days=30))["purged"] == 0
    assert _fresh(clinic_a).pk == clinic_a.pk


@pytest.mark.django_db
def test_an_owner_with_an_authenticator_app_gives_a_code_too(clinic_a, member_client):
    user, owner = member_client(clinic_a, Role.OWNER)
    from bookwell.accounts.services import totp_new_secret

    user.totp_secret = totp_new_secret()
    user.totp_enabled_at = timezone.now()
    user.save()
    refused = _ask(owner, clinic_a, code="000000")
    assert refused.status_code == 400 and "authenticator" in refused.content.decode()
    assert _fresh(clinic_a).deletion_due_at is None


@pytest.mark.django_db
def test_owners_are_reminded_a_week_and_a_day_before(clinic_a, member_client):
    user, _ = member_client(clinic_a, Role.OWNER)
    asked = timezone.now()
    clinic_deletion_request(
        clinic=clinic_a, actor=user, password=PASSWORD, typed_name=clinic_a.name
    )
    mail.outbox.clear()
    assert clinic_deletions_run(now=asked + dt.timedelta(days=6))["reminded"] == 0
    assert clinic_deletions_run(now=asked + dt.timedelta(days=7, hours=1))["reminded"] == 1
    assert clinic_deletions_run(now=asked + dt.timedelta(days=7, hours=2))["reminded"] == 0
    assert clinic_deletions_run(now=asked + dt.timedelta(days=13, hours=1))["reminded"] == 1
    assert [m.subject.startswith("Reminder") for m in mail.outbox] == [True, True]
    assert _fresh(clinic_a).deletion_reminders == 2


# --- The purge, against a copy of the database taken before it ---------------------------------

SEALED = re.compile(r"bw1\.([0-9a-f]{32})\.([A-Za-z0-9_=-]+)")


def _copy_rows(copy: Any, table: str, clinic_id: int) -> list[dict[str, Any]]:
    """Rows of one table of the clinic, read from the copy (never from the live database)."""
    if isinstance(copy, Path):  # a SQLite file
        with sqlite3.connect(copy) as db:
            db.row_factory = sqlite3.Row
            return [
                dict(r)
                for r in db.execute(
                    f"SELECT * FROM {table} WHERE clinic_id = ?",
                    (clinic_id,),
                )
            ]
    match = re.search(
        rf"^COPY public\.{table} \((.*?)\) FROM stdin;\n(.*?)^\\\.$", copy, re.M | re.S
    )
    assert match, table
    columns = [c.strip().strip('"') for c in match.group(1).split(",")]
    rows = []
    for line in match.group(2).splitlines():
        values: list[Any] = [None if v == r"\N" else v for v in line.split("\t")]
        row = dict(zip(columns, values, strict=True))
        for name, value in row.items():
            if isinstance(value, str) and value.startswith("\\\\x"):
                row[name] = bytes.fromhex(value[3:])
        if str(row["clinic_id"]) == str(clinic_id):
            rows.append(row)
    return rows


def _take_copy(tmp_path: Path) -> Any:
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = tmp_path / "copy.sqlite3"
        with sqlite3.connect(target) as backup:
            connection.connection.backup(backup)
        return target
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed for the PostgreSQL deletion test (postgresql-client)")
    admin = os.environ.get(
        "BOOKWELL_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    ).rsplit("/", 1)[0]
    name = connection.settings_dict["NAME"]
    out = subprocess.run(
        [pg_dump, "--data-only", f"--dbname={admin}/{name}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def _open_from_copy(copy: Any, clinic_id: int) -> list[str]:
    """Every client name of the clinic in the copy, opened with the copy's wrapped data keys
    and whatever the system holds now (master keys, keystore). Raises when it cannot."""
    keys = {}
    for row in _copy_rows(copy, "tenancy_clinickey", clinic_id):
        data_key = keyring._unwrap(
            clinic_id,
            row["uid"],
            row["master_key_id"],
            bytes(row["wrapped_key"]),
            int(row["wrap_version"]),
        )
        keys[row["uid"]] = crypto.derive_key(data_key, "bookwell field encryption v1")
    names = []
    for row in _copy_rows(copy, "clients_client", clinic_id):
        uid, blob = SEALED.fullmatch(row["full_name"]).groups()
        aad = _aad_for("clients.Client", "full_name", clinic_id, uuid.UUID(row["id"]))
        names.append(crypto.open_sealed(keys[uid], base64.urlsafe_b64decode(blob), aad).decode())
    return names


def _held_keys() -> list[bytes]:
    """The field key of every data key the system still holds, any clinic."""
    with platform_scope("test: every key left"):
        rows = list(ClinicKey.objects.all())
    return [keyring._key_from_row(r).field_key for r in rows]


@pytest.mark.django_db(transaction=True)
def test_the_purge_deletes_every_row_and_a_copy_taken_before_cannot_be_read(
    clinic_a, clinic_b, tmp_path
):
    for factory in TENANT_ROW_FACTORIES.values():  # a row in every clinic table, both clinics
        factory(clinic_a)
        factory(clinic_b)
    with clinic_context(clinic_a):
        client_create(clinic=clinic_a, data=ClientInput(full_name="Shred Me Please"))
    with clinic_context(clinic_b):
        kept = client_create(clinic=clinic_b, data=ClientInput(full_name="Keep Me Please"))
    owner = make_member(clinic_a, Role.OWNER)
    clinic_deletion_request(
        clinic=clinic_a, actor=owner, password=PASSWORD, typed_name=clinic_a.name
    )
    tables = {m._meta.db_table for m in clinic_models()}
    for model in clinic_models():
        with clinic_context(clinic_a):
            assert model._base_manager.filter(clinic_id=clinic_a.pk).exists(), model
    copy = _take_copy(tmp_path)
    # The control: before the purge the copy opens with what the system holds.
    assert "Shred Me Please" in _open_from_copy(copy, clinic_a.pk)

    assert clinic_purge(clinic_id=clinic_a.pk) == 0  # not due yet
    due = _fresh(clinic_a).deletion_due_at
    assert due is not None
    assert clinic_deletions_run(now=due + dt.timedelta(minutes=1))["purged"] == 1

    # No row of the clinic is left, in any table, nor its audit log; one platform event.
    with platform_scope("test: look for anything of the deleted clinic"):
        assert not Clinic.objects.filter(pk=clinic_a.pk).exists()
        for model in clinic_models():
            assert not model._base_manager.filter(clinic_id=clinic_a.pk).exists(), model
        assert not AuditEvent.objects.filter(chain=clinic_a.pk).exists()
        assert not ChainHead.objects.filter(chain=clinic_a.pk).exists()
        [purged] = AuditEvent.objects.filter(action=Action.CLINIC_PURGED)
    assert purged.chain == 0 and purged.target_id == str(clinic_a.pk)
    assert purged.extra["rows"] > len(tables)
    assert keystore.clinic_ids() >= {clinic_b.pk} and clinic_a.pk not in keystore.clinic_ids()
    assert not (Path(settings.EXPORT_DIR) / str(clinic_a.pk)).exists()

    # The copy taken before: its sealed names cannot be opened any more, neither through its
    # own wrapped keys (their secrets are gone) nor with any key the system still holds.
    with pytest.raises(keyring.KeyringError):
        _open_from_copy(copy, clinic_a.pk)
    sealed = _copy_rows(copy, "clients_client", clinic_a.pk)
    assert sealed
    held = _held_keys()
    assert held
    for row in sealed:
        _, blob = SEALED.fullmatch(row["full_name"]).groups()
        aad = _aad_for("clients.Client", "full_name", clinic_a.pk, uuid.UUID(row["id"]))
        for key in held:
            with pytest.raises(crypto.DecryptionError):
                crypto.open_sealed(key, base64.urlsafe_b64decode(blob), aad)
    # The other clinic is untouched and readable.
    keyring.forget_cached_keys()
    with clinic_context(clinic_b):
        assert Client.objects.get(pk=kept.pk).full_name == "Keep Me Please"
    assert "Keep Me Please" in _open_from_copy(copy, clinic_b.pk)


@pytest.mark.django_db
def test_the_password_cannot_be_guessed_here(clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    for _ in range(5):
        assert _ask(owner, clinic_a, password="guess").status_code == 400
    blocked = _ask(owner, clinic_a)  # the right password, too late
    assert blocked.status_code == 400 and "Too many tries" in blocked.content.decode()
    assert _fresh(clinic_a).deletion_due_at is None


@pytest.mark.django_db
def test_the_sweep_destroys_only_secrets_of_clinics_the_log_says_were_purged(clinic_a):
    from bookwell.audit.models import ActorKind, TargetKind
    from bookwell.audit.services import Actor, audit_record

    keystore.secret_create(990_001, "aa11")  # a clinic being created: its row not committed
    keystore.secret_create(990_002, "bb22")  # a clinic purged; its process died after commit
    audit_record(
        action=Action.CLINIC_PURGED,
        actor=Actor(ActorKind.SYSTEM),
        clinic_id=None,
        target_kind=TargetKind.CLINIC,
        target_id=990_002,
        extra={"rows": 1},
    )
    clinic_deletions_run()
    assert 990_001 in keystore.clinic_ids()
    assert 990_002 not in keystore.clinic_ids()
    keystore.clinic_destroy(990_001)
