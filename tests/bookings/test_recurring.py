"""Recurring appointments: same local time across DST, conflicts previewed, rest or none."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookwell.bookings.models import Appointment, RecurringSeries, Status
from bookwell.bookings.recurring import occurrences, series_book, series_cancel, series_preview
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.core.context import clinic_context
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
# Tuesdays at 09:00 Berlin, across the 25 October 2026 change back to winter time.
FIRST = dt.datetime(2026, 10, 13, 9, 0, tzinfo=BERLIN)


def test_weekly_occurrences_keep_the_local_time_across_daylight_saving():
    starts = occurrences(
        first_start=FIRST, time_zone="Europe/Berlin", every_weeks=1, count=4, until=None
    )
    assert [s.astimezone(BERLIN).strftime("%m-%d %H:%M") for s in starts] == [
        "10-13 09:00",
        "10-20 09:00",
        "10-27 09:00",
        "11-03 09:00",
    ]
    assert [s.strftime("%H:%M") for s in starts] == ["07:00", "07:00", "08:00", "08:00"]  # UTC
    fortnightly = occurrences(
        first_start=FIRST,
        time_zone="Europe/Berlin",
        every_weeks=2,
        count=None,
        until=dt.date(2026, 11, 30),
    )
    assert len(fortnightly) == 4


def _setup(clinic):
    clinic.time_zone = "Europe/Berlin"
    clinic.save()
    setup = schedule(clinic, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic):
        # A booking in week 3 clashes with the series.
        appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2026, 10, 27, 9, 30, tzinfo=BERLIN),
            ),
        )
    return setup


def test_preview_marks_the_conflicting_occurrence(clinic_a):
    setup = _setup(clinic_a)
    starts = occurrences(
        first_start=FIRST, time_zone="Europe/Berlin", every_weeks=1, count=4, until=None
    )
    with clinic_context(clinic_a):
        preview = series_preview(
            clinic=clinic_a, service=setup.service, staff=setup.staff, starts=starts
        )
        assert Appointment.objects.count() == 1  # the preview wrote nothing
    assert [o.conflict for o in preview] == [False, False, True, False]


def test_all_or_none_books_nothing_when_one_occurrence_conflicts(clinic_a):
    setup = _setup(clinic_a)
    with clinic_context(clinic_a):
        with pytest.raises(SlotTaken):
            series_book(
                clinic=clinic_a,
                service=setup.service,
                staff=setup.staff,
                first_start=FIRST,
                count=4,
            )
        assert RecurringSeries.objects.count() == 0
        assert Appointment.objects.count() == 1


def test_book_the_rest_skips_the_conflict_and_records_it(clinic_a):
    setup = _setup(clinic_a)
    with clinic_context(clinic_a):
        series, booked = series_book(
            clinic=clinic_a,
            service=setup.service,
            staff=setup.staff,
            first_start=FIRST,
            count=4,
            skip_conflicts=True,
        )
        assert len(booked) == 3 and series.exceptions == ["2026-10-27"]
        assert Appointment.objects.filter(series=series).count() == 3


def test_cancel_one_or_all_future_occurrences(clinic_a):
    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0)
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    with (
        clinic_context(clinic_a),
        time_machine.travel(FIRST - dt.timedelta(days=1), tick=False),
    ):
        series, booked = series_book(
            clinic=clinic_a, service=setup.service, staff=setup.staff, first_start=FIRST, count=5
        )
        assert series_cancel(series=series, from_start=booked[1].start, only_one=True) == 1
        assert series_cancel(series=series, from_start=booked[3].start) == 2
        statuses = list(
            Appointment.objects.filter(series=series)
            .order_by("start")
            .values_list("status", flat=True)
        )
        assert statuses == [
            Status.CONFIRMED,
            Status.CANCELLED_BY_CLINIC,
            Status.CONFIRMED,
            Status.CANCELLED_BY_CLINIC,
            Status.CANCELLED_BY_CLINIC,
        ]
        series.refresh_from_db()
        assert len(series.exceptions) == 3  # the cancelled dates are exceptions now


def test_all_future_never_cancels_what_is_past(clinic_a):
    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        with time_machine.travel(FIRST - dt.timedelta(days=1), tick=False):
            series, booked = series_book(
                clinic=clinic_a,
                service=setup.service,
                staff=setup.staff,
                first_start=FIRST,
                count=4,
            )
        # Two weeks later, "all from the first" cancels only the two still to come.
        with time_machine.travel(booked[1].start + dt.timedelta(hours=2), tick=False):
            assert series_cancel(series=series, from_start=booked[0].start) == 2
        statuses = list(
            Appointment.objects.filter(series=series)
            .order_by("start")
            .values_list("status", flat=True)
        )
        assert statuses[:2] == [Status.CONFIRMED, Status.CONFIRMED]


@pytest.mark.parametrize(("count", "until"), [(0, None), (105, None), (None, "far")])
def test_a_series_out_of_bounds_is_refused(clinic_a, count, until):
    from bookwell.core.errors import ServiceError

    until_day = FIRST.date() + dt.timedelta(days=3 * 365) if until else None
    with pytest.raises(ServiceError):
        occurrences(
            first_start=FIRST,
            time_zone="Europe/Berlin",
            every_weeks=1,
            count=count,
            until=until_day,
        )


def test_an_occurrence_in_a_spring_forward_gap_moves_to_the_gap_end():
    first = dt.datetime(2026, 3, 22, 2, 30, tzinfo=BERLIN)  # exists (a week before the change)
    starts = occurrences(
        first_start=first, time_zone="Europe/Berlin", every_weeks=1, count=2, until=None
    )
    assert starts[1] == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 03:00 CEST, as the engine


def test_preview_sees_a_room_taken_by_someone_else_and_series_keep_the_staff_clock(clinic_a):
    from bookwell.bookings.recurring import series_time_zone
    from bookwell.scheduling.models import Location, WorkingHours

    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a, with_room=True, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        # The other practitioner holds the only room in week 2.
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=FIRST + dt.timedelta(weeks=1)
            ),
        )
        starts = occurrences(
            first_start=FIRST, time_zone="Europe/Berlin", every_weeks=1, count=3, until=None
        )
        preview = series_preview(
            clinic=clinic_a, service=setup.service, staff=setup.staff, starts=starts
        )
        assert [o.conflict for o in preview] == [False, True, False]

        ny = Location.objects.create(clinic=clinic_a, name="NY", time_zone="America/New_York")
        WorkingHours.objects.create(
            clinic=clinic_a,
            staff=setup.other_staff,
            location=ny,
            weekday=1,
            start_min=540,
            end_min=1020,
        )
        assert series_time_zone(clinic_a, setup.other_staff) == "America/New_York"
        assert series_time_zone(clinic_a, setup.staff) == "Europe/Berlin"  # no hours: the clinic's
