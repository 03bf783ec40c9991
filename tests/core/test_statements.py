"""Hand-written statements (core.db.statements): a batched INSERT writes what save() writes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction

from bookwell.bookings.models import Appointment, Source, Status
from bookwell.core.context import clinic_context
from bookwell.core.db.statements import fetch_batch, insert_statement
from bookwell.tenancy import keyring
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)


def _appointment(setup, start: dt.datetime, note: str) -> Appointment:
    new_id = uuid.uuid4()
    return Appointment(
        id=new_id,
        overlap_key=str(new_id),
        clinic=setup.clinic,
        service=setup.service,
        staff=setup.staff,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_start=start,
        block_end=start + dt.timedelta(minutes=40),
        status=Status.CONFIRMED,
        source=Source.API,
        note=note,
        key_version=keyring.active_version(setup.clinic.pk),
    )


def test_a_batched_insert_writes_the_row_save_would(clinic_a):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a), transaction.atomic():
        saved = _appointment(setup, START, "Saved the usual way")
        saved.save()
        batched = _appointment(setup, START + dt.timedelta(hours=1), "Sent in a batch")
        before = dt.datetime.now(dt.UTC)
        (inserted_rows,) = fetch_batch("default", [insert_statement(batched)])
        assert inserted_rows == []  # a write without RETURNING has no rows
        assert batched._state.adding is False
        assert batched.created_at >= before and batched.updated_at >= before  # auto_now
        again = Appointment.objects.get(pk=batched.pk)
        first = Appointment.objects.get(pk=saved.pk)
    for field in Appointment._meta.concrete_fields:
        if field.name in ("id", "overlap_key", "start", "end", "block_start", "block_end"):
            continue
        if field.name in ("note", "created_at", "updated_at", "request_fingerprint"):
            continue
        assert getattr(again, field.attname) == getattr(first, field.attname), field.name
    assert again.start == START + dt.timedelta(hours=1)
    with clinic_context(clinic_a):
        assert str(again.note) == "Sent in a batch"  # sealed with the clinic's key, and opens
    assert again.created_at == batched.created_at


def test_a_refused_batched_insert_raises_the_databases_error(clinic_a):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        row = _appointment(setup, START, "")
        fetch_batch("default", [insert_statement(row)])
        twin = _appointment(setup, START + dt.timedelta(hours=2), "")
        twin.id = row.id  # the same primary key
        with pytest.raises(IntegrityError), transaction.atomic():
            fetch_batch("default", [insert_statement(twin)])
        assert Appointment.objects.filter(start=START + dt.timedelta(hours=2)).count() == 0
