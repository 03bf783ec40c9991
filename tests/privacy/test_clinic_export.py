"""A clinic takes all its data with it (P15): the owner asks for an export, the worker builds
it, the owner downloads one zip of JSON and CSV per entity with a manifest; the link expires."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bookwell.audit.models import Action, AuditEvent
from bookwell.bookings.models import Appointment
from bookwell.clients.models import Client
from bookwell.core import crypto
from bookwell.core.context import clinic_context
from bookwell.core.errors import Conflict
from bookwell.privacy import archive
from bookwell.privacy.clinic_data import (
    clinic_export_build,
    clinic_export_request,
    clinic_exports_expire,
    export_path,
)
from bookwell.privacy.models import ClinicExport, ExportStatus
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def _url(clinic, tail=""):
    return f"/c/{clinic.slug}/privacy/{tail}"


def _has_clinic_rows(model: type[models.Model]) -> bool:
    names = {f.attname for f in model._meta.concrete_fields}
    return "clinic_id" in names or model._meta.label == "tenancy.Clinic"


def test_every_model_with_clinic_rows_is_exported_or_left_out_with_a_reason():
    exported = {e.model for e in archive.ENTITIES}
    missing = [
        m._meta.label
        for m in apps.get_models()
        if _has_clinic_rows(m) and m not in exported and m not in archive.NOT_EXPORTED
    ]
    assert missing == []
    assert exported.isdisjoint(archive.NOT_EXPORTED)
    assert all(archive.NOT_EXPORTED.values())
    # Every column left out is left out for a stated reason.
    for entity in archive.ENTITIES:
        assert set(entity.omit) <= set(archive.OMITTED), entity.name


def test_no_secret_goes_into_an_export():
    secrets = {"token_hash", "manage_token_hash", "manage_salt", "digest", "secret", "wrapped_key"}
    for entity in archive.ENTITIES:
        assert secrets.isdisjoint(entity.columns()), entity.name


def _make_other_clinic_data(clinic_b):
    from bookwell.clients.services import ClientInput, client_create

    with clinic_context(clinic_b):
        client_create(
            clinic=clinic_b, data=ClientInput(full_name="Other Clinic Person", email="o@b.test")
        )


def _build_via_page(owner, clinic):
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        made = owner.post(_url(clinic, "exports/"))
    assert made.status_code == 302
    with clinic_context(clinic):
        export = ClinicExport.objects.get(status=ExportStatus.QUEUED)
    # The page queued the worker's task for it (after commit).
    task = DBTaskResult.objects.get(task_path="bookwell.privacy.tasks.build_clinic_export")
    assert task.args_kwargs["args"] == [str(export.pk)]
    assert clinic_export_build(str(export.pk)) == "ready"
    assert clinic_export_build(str(export.pk)) == "taken"  # a second run does nothing
    with clinic_context(clinic):
        export.refresh_from_db()
    return export


def test_round_trip_every_client_and_appointment_is_in_the_archive(
    clinic_a, clinic_b, booked, member_client
):
    from bookwell.clients.services import ClientInput, client_create

    with clinic_context(clinic_a):
        for n in range(3):
            client_create(
                clinic=clinic_a, data=ClientInput(full_name=f"Extra Person {n}", phone="+4930123")
            )
        clients = {str(pk) for pk in Client.objects.values_list("pk", flat=True)}
        appointments = {str(pk) for pk in Appointment.objects.values_list("pk", flat=True)}
    _make_other_clinic_data(clinic_b)
    _, owner = member_client(clinic_a, Role.OWNER)

    export = _build_via_page(owner, clinic_a)
    assert export.status == ExportStatus.READY and export.percent == 100
    assert export.rows_done == export.rows_total > 0
    # At rest the archive is sealed: no name, address or id readable in the file.
    stored = export_path(export).read_bytes()
    assert b"Page Subject" not in stored and b"subject@example.test" not in stored
    assert b"clients.json" not in stored

    response = owner.get(_url(clinic_a, f"exports/{export.pk}/download/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content)
    zf = zipfile.ZipFile(io.BytesIO(body))
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "bookwell-clinic-export"
    assert manifest["schema_version"] == archive.SCHEMA_VERSION
    assert manifest["clinic"] == {"id": clinic_a.pk, "slug": clinic_a.slug}
    names = {e["name"] for e in manifest["entities"]}
    assert names == {e.name for e in archive.ENTITIES}
    for entry in manifest["entities"]:
        assert set(entry["files"]) <= set(zf.namelist())

    json_clients = json.loads(zf.read("clients.json"))
    assert {c["id"] for c in json_clients} == clients
    subject = next(c for c in json_clients if c["email"] == "subject@example.test")
    assert subject["full_name"] == "Page Subject"  # opened, not the sealed text
    csv_clients = list(csv.DictReader(io.StringIO(zf.read("clients.csv").decode())))
    assert {c["id"] for c in csv_clients} == clients
    assert {c["full_name"] for c in csv_clients} >= {"Page Subject", "Extra Person 0"}
    json_appointments = json.loads(zf.read("appointments.json"))
    assert {a["id"] for a in json_appointments} == appointments
    assert json_appointments[0]["client_id"] == str(booked.pk)
    csv_appointments = list(csv.DictReader(io.StringIO(zf.read("appointments.csv").decode())))
    assert {a["id"] for a in csv_appointments} == appointments
    counts = {e["name"]: e["rows"] for e in manifest["entities"]}
    assert counts["clients"] == len(clients) and counts["appointments"] == len(appointments)
    # Nothing of the other clinic, and no secrets.
    everything = b"".join(zf.read(n) for n in zf.namelist())
    assert b"Other Clinic Person" not in everything
    team = json.loads(zf.read("team.json"))
    assert {m["role"] for m in team} == {"owner"} and "@" in team[0]["user_email"]
    # The audit log holds the request and the download, with ids only.
    with clinic_context(clinic_a):
        actions = list(
            AuditEvent.objects.filter(clinic_id=clinic_a.pk).values_list("action", flat=True)
        )
    assert Action.CLINIC_EXPORT_REQUESTED in actions
    assert Action.CLINIC_EXPORT_DOWNLOADED in actions
    with clinic_context(clinic_a):
        assert ClinicExport.objects.get(pk=export.pk).downloads == 1


def test_the_page_shows_progress_and_polls_until_ready(clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    owner.post(_url(clinic_a, "exports/"))
    with clinic_context(clinic_a):
        export = ClinicExport.objects.get()
        ClinicExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.RUNNING, rows_total=200, rows_done=50, heartbeat_at=timezone.now()
        )
    part = owner.get(_url(clinic_a, "?part=exports"), headers={"HX-Request": "true"})
    html = part.content.decode()
    assert part.status_code == 200 and "<h1>" not in html  # the partial alone
    assert 'value="25"' in html and 'hx-trigger="every 2s"' in html
    # A second export while this one is made is refused, with a clear message.
    again = owner.post(_url(clinic_a, "exports/"), follow=True)
    assert "being made already" in again.content.decode()
    with clinic_context(clinic_a):
        assert ClinicExport.objects.count() == 1
    with clinic_context(clinic_a):
        ClinicExport.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED)
    clinic_export_build(str(export.pk))
    done = owner.get(_url(clinic_a, "?part=exports"), headers={"HX-Request": "true"})
    assert "every 2s" not in done.content.decode()  # polling stops
    assert f"exports/{export.pk}/download/" in done.content.decode()


def test_an_export_a_dead_worker_left_does_not_block_the_next(clinic_a, member_client):
    user, _ = member_client(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        first = clinic_export_request(clinic=clinic_a, actor=user)
        with pytest.raises(Conflict):
            clinic_export_request(clinic=clinic_a, actor=user)
        stale = timezone.now() - dt.timedelta(minutes=30)
        ClinicExport.objects.filter(pk=first.pk).update(
            status=ExportStatus.RUNNING, started_at=stale, heartbeat_at=stale
        )
        second = clinic_export_request(clinic=clinic_a, actor=user)
        first.refresh_from_db()
    assert first.status == ExportStatus.FAILED and first.error_code == "WorkerLost"
    assert second.status == ExportStatus.QUEUED


def test_the_link_expires_and_the_file_is_deleted(clinic_a, member_client, clock):
    _, owner = member_client(clinic_a, Role.OWNER)
    export = _build_via_page(owner, clinic_a)
    path = export_path(export)
    assert path.exists()
    clock.move_to(timezone.now() + dt.timedelta(hours=23))
    assert clinic_exports_expire() == 0 and path.exists()
    _, owner = member_client(clinic_a, Role.OWNER)  # signed in again: sessions end when idle
    assert owner.get(_url(clinic_a, f"exports/{export.pk}/download/")).status_code == 200
    clock.move_to(timezone.now() + dt.timedelta(hours=2))
    _, owner = member_client(clinic_a, Role.OWNER)
    late = owner.get(_url(clinic_a, f"exports/{export.pk}/download/"))
    assert late.status_code == 410
    assert "expired" in late.content.decode()
    assert clinic_exports_expire() == 1
    assert not path.exists()
    with clinic_context(clinic_a):
        assert ClinicExport.objects.get(pk=export.pk).status == ExportStatus.EXPIRED


def test_only_owners_and_never_another_clinic(clinic_a, clinic_b, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    export = _build_via_page(owner, clinic_a)
    _, admin = member_client(clinic_a, Role.ADMIN)
    assert admin.get(_url(clinic_a)).status_code == 403
    assert admin.get(_url(clinic_a, f"exports/{export.pk}/download/")).status_code == 403
    _, other_owner = member_client(clinic_b, Role.OWNER)
    assert other_owner.get(_url(clinic_b, f"exports/{export.pk}/download/")).status_code == 404


def test_a_failed_build_says_so_and_leaves_no_file(clinic_a, member_client, monkeypatch):
    user, owner = member_client(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        export = clinic_export_request(clinic=clinic_a, actor=user)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(archive, "write_archive", broken)
    assert clinic_export_build(str(export.pk)) == "failed"
    with clinic_context(clinic_a):
        export.refresh_from_db()
    assert export.status == ExportStatus.FAILED and export.error_code == "OSError"
    assert not export_path(export).exists()
    assert not export_path(export).with_suffix(".part").exists()
    assert "Failed" in owner.get(_url(clinic_a)).content.decode()


# --- The sealed stream the archive is stored in ------------------------------------------------


def _sealed(data: bytes, context: bytes = b"ctx") -> tuple[bytes, bytes]:
    key = crypto.new_key()
    out = io.BytesIO()
    writer = crypto.SealingWriter(key, out, context)
    for start in range(0, len(data), 300_000):
        writer.write(data[start : start + 300_000])
    writer.close()
    return key, out.getvalue()


def test_a_sealed_stream_opens_to_what_was_written():
    data = bytes(range(256)) * 9000  # a little over two segments
    key, blob = _sealed(data)
    assert b"".join(crypto.open_stream(key, io.BytesIO(blob), b"ctx")) == data
    key, blob = _sealed(b"")
    assert b"".join(crypto.open_stream(key, io.BytesIO(blob), b"ctx")) == b""


def test_a_sealed_stream_refuses_cuts_swaps_and_other_contexts():
    data = b"x" * (crypto.SEGMENT_BYTES * 2 + 10)
    key, blob = _sealed(data)
    first_len = int.from_bytes(blob[5:9], "big")
    first_end = 4 + 5 + first_len

    def opened(b: bytes, context: bytes = b"ctx") -> bytes:
        return b"".join(crypto.open_stream(key, io.BytesIO(b), context))

    with pytest.raises(crypto.DecryptionError):
        opened(blob, b"another export")
    with pytest.raises(crypto.DecryptionError):  # the last segment cut off
        opened(blob[: first_end + 5 + first_len])
    second = blob[first_end : first_end + 5 + first_len]
    with pytest.raises(crypto.DecryptionError):  # two segments swapped
        opened(blob[:4] + second + blob[4:first_end] + blob[first_end + len(second) :])
    with pytest.raises(crypto.DecryptionError):  # something after the end
        opened(blob + b"\x00")
    with pytest.raises(crypto.DecryptionError):
        b"".join(crypto.open_stream(crypto.new_key(), io.BytesIO(blob), b"ctx"))


def test_the_privacy_center_shows_holdings_requests_providers_retention_and_the_record(
    clinic_a, booked, member_client
):
    from bookwell.privacy.services import subject_request_record

    with clinic_context(clinic_a):
        subject_request_record(
            clinic=clinic_a,
            client=booked,
            kind="erasure",
            received_on=timezone.localdate() - dt.timedelta(days=40),
        )
    _, owner = member_client(clinic_a, Role.OWNER)
    html = owner.get(_url(clinic_a)).content.decode()
    assert "<title>Privacy center · Bookwell</title>" in html
    assert html.count('id="delete"') == 1
    holdings = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td></tr>", html))
    assert holdings["Clients"] == "1" and holdings["Appointments"] == "1"
    assert "Page Subject" in html and "overdue" in html  # the open request, 10 days late
    assert "Email delivery" in html and "Text messages (SMS)" in html
    assert "Records of sent messages and webhook deliveries" in html
    record = owner.get(_url(clinic_a, "record-of-processing.md"))
    assert record.status_code == 200
    assert record["Content-Type"].startswith("text/markdown")
    text = record.content.decode()
    assert "# Record of processing activities" in text and clinic_a.name in text
    assert "date of birth" not in text  # the clinic does not collect it
    clinic_a.collect_date_of_birth = True
    clinic_a.save(update_fields=["collect_date_of_birth"])
    assert "date of birth" in owner.get(_url(clinic_a, "record-of-processing.md")).content.decode()


def test_an_export_no_worker_picked_up_is_given_up_and_a_late_build_stays_failed(
    clinic_a, member_client, clock, monkeypatch
):
    user, _ = member_client(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        stuck = clinic_export_request(clinic=clinic_a, actor=user)
    clock.move_to(timezone.now() + dt.timedelta(minutes=61))
    clinic_exports_expire()  # the hourly job
    with clinic_context(clinic_a):
        stuck.refresh_from_db()
        assert stuck.status == ExportStatus.FAILED and stuck.error_code == "NeverStarted"
        fresh = clinic_export_request(clinic=clinic_a, actor=user)  # no longer blocked
    # A build given up while it ran does not come back as ready.
    started: dict[str, bool] = {}

    def give_up_midway(done: int) -> None:
        if not started:
            started["once"] = True
            with clinic_context(clinic_a):
                ClinicExport.objects.filter(pk=fresh.pk).update(
                    status=ExportStatus.FAILED, finished_at=timezone.now(), error_code="WorkerLost"
                )

    original = archive.write_archive

    def slow(clinic, sink, *, progress, now):
        progress(0)
        give_up_midway(0)
        return original(clinic, sink, progress=progress, now=now)

    monkeypatch.setattr(archive, "write_archive", slow)
    assert clinic_export_build(str(fresh.pk)) == "failed"
    with clinic_context(clinic_a):
        fresh.refresh_from_db()
    assert fresh.status == ExportStatus.FAILED and not export_path(fresh).exists()


def test_erasing_a_client_withdraws_the_exports_that_hold_them(clinic_a, booked, member_client):
    from bookwell.privacy.services import client_erase

    _, owner = member_client(clinic_a, Role.OWNER)
    export = _build_via_page(owner, clinic_a)
    assert export_path(export).exists()
    from django.test import TestCase

    user, _ = member_client(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        building = clinic_export_request(clinic=clinic_a, actor=user)
    with TestCase.captureOnCommitCallbacks(execute=True), clinic_context(clinic_a):
        client_erase(clinic=clinic_a, client=booked)
    # One being made when the client was erased is given up, and its build leaves no file.
    assert clinic_export_build(str(building.pk)) == "taken"
    with clinic_context(clinic_a):
        building.refresh_from_db()
        assert building.status == ExportStatus.FAILED
        export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED and not export_path(export).exists()
    assert owner.get(_url(clinic_a, f"exports/{export.pk}/download/")).status_code == 410
