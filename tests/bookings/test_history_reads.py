"""A booking's checks read the stretch of time around it, not a staff member's or room's
whole history: the overlap checks and the release of run-out holds bound the start both ways
(a booking overlapping a window starts less than LONGEST_BLOCK before it), so the index on
(clinic, staff or room, block_start, block_end) reads only that stretch however many years of
bookings lie behind it; and it checks each row's end itself, so a booking of that stretch that
ends before the window is never fetched from the table. PostgreSQL's plans say how many rows
each read touched."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import connection, transaction

from bookwell.bookings.models import LONGEST_BLOCK, Appointment, Source, Status
from bookwell.bookings.services import _overlaps, _release_expired_holds
from bookwell.core.context import clinic_context
from bookwell.tenancy import keyring
from tests.bookings.factories import schedule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

START = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)
HISTORY = 1200  # earlier bookings of the same staff member and room, one an hour
# What the bounded reads may touch: the bookings that start within LONGEST_BLOCK before.
STRETCH = int(LONGEST_BLOCK / dt.timedelta(hours=1)) + 2


@pytest.fixture(autouse=True)
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


def _appointment(setup, start: dt.datetime) -> Appointment:
    new_id = uuid.uuid4()
    return Appointment(
        id=new_id,
        overlap_key=str(new_id),
        clinic=setup.clinic,
        service=setup.service,
        staff=setup.staff,
        room=setup.room,
        room_exclusive=True,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_start=start,
        block_end=start + dt.timedelta(minutes=40),
        status=Status.CONFIRMED,
        source=Source.STAFF,
        key_version=keyring.active_version(setup.clinic.pk),
    )


def _rows_read(plan: object) -> int:
    """The most rows any scan of the plan read: those it returned and those its filter
    then threw away."""
    most = 0
    if isinstance(plan, dict):
        if "Scan" in str(plan.get("Node Type", "")):
            most = sum(
                int(plan.get(field, 0))
                for field in (
                    "Actual Rows",
                    "Rows Removed by Filter",
                    "Rows Removed by Index Recheck",
                )
            )
        for value in plan.values():
            most = max(most, _rows_read(value))
    elif isinstance(plan, list):
        for value in plan:
            most = max(most, _rows_read(value))
    return most


@pytest.fixture
def history(clinic_a):
    setup = schedule(clinic_a, with_room=True)
    with clinic_context(clinic_a):
        Appointment.objects.bulk_create(
            _appointment(setup, START - dt.timedelta(hours=1 + n)) for n in range(HISTORY)
        )
        # (The premise: a stretch of dozens of bookings that the reads would otherwise fetch
        # from the table to read their ends.)
        stretch = Appointment.objects.filter(
            staff=setup.staff, block_start__gt=START - LONGEST_BLOCK, block_start__lt=START
        ).count()
        assert 20 < stretch <= STRETCH
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE bookings_appointment")
    return setup


def test_the_release_of_run_out_holds_reads_only_the_stretch_around_the_booking(history):
    new = _appointment(history, START)
    with clinic_context(history.clinic), transaction.atomic():
        sql, params = _release_expired_holds(history.clinic, new)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # as on a table of real size
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            (plan,) = cursor.fetchone()
        transaction.set_rollback(True)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    # Not the HISTORY rows before it, nor the STRETCH of them that start less than
    # LONGEST_BLOCK before: none overlaps, and the index says so without the table.
    assert _rows_read(plan) == 0, plan


@pytest.mark.parametrize("by", ["staff", "room"])
def test_the_overlap_checks_read_only_the_stretch_around_the_booking(history, by):
    lo, hi = START, START + dt.timedelta(minutes=40)
    with clinic_context(history.clinic), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        found = _overlaps(**{by: getattr(history, by)}, lo=lo, hi=hi)
        report = found.explain(analyze=True, format="json")
    assert _rows_read(json.loads(report)) == 0, report  # (as above)
