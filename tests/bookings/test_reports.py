"""The overview's numbers, checked against counts worked out by hand, and a fixed number of
queries whatever the amount of data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookwell.bookings.models import Appointment, Status
from bookwell.bookings.reports import overview
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_set_status
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import ClinicClosure, TimeOff, WorkingHours
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2031, 3, 28, 18, 0, tzinfo=BERLIN)  # a Friday evening


def _at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2031, 3, day, hour, 0, tzinfo=BERLIN)


@pytest.fixture
def clinic(clinic_a):
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        setup.other_staff.archived = True  # one staff member in the report
        setup.other_staff.save()
        for weekday in range(5):
            for a, b in ((9 * 60, 12 * 60), (13 * 60, 17 * 60)):  # 7 hours a day
                WorkingHours.objects.create(
                    clinic=clinic_a,
                    staff=setup.staff,
                    location=setup.location,
                    weekday=weekday,
                    start_min=a,
                    end_min=b,
                )
        TimeOff.objects.create(  # Tuesday 10 March, 09:00-12:00: three hours less
            clinic=clinic_a, staff=setup.staff, start=_at(10, 9), end=_at(10, 12), category="sick"
        )
        ClinicClosure.objects.create(  # Friday 13 March closed: seven hours less
            clinic=clinic_a, first_day=dt.date(2031, 3, 13), last_day=dt.date(2031, 3, 13)
        )
        zelda = client_create(clinic=clinic_a, data=ClientInput(full_name="Zelda Quibblestone"))
        with time_machine.travel(_at(1, 8), tick=False):
            booked = [
                appointment_book(
                    clinic=clinic_a,
                    request=BookingRequest(
                        service=setup.service, staff=setup.staff, start=start, client=zelda
                    ),
                )
                for start in (_at(3, 9), _at(3, 10), _at(4, 14), _at(5, 9), _at(27, 15), _at(28, 9))
            ]
        with time_machine.travel(NOW, tick=False):
            appointment_set_status(appointment=booked[1], status=Status.NO_SHOW)
            appointment_set_status(appointment=booked[2], status=Status.CANCELLED_BY_CLIENT)
            appointment_set_status(appointment=booked[3], status=Status.CANCELLED_BY_CLINIC)
    return clinic_a, setup


def test_the_overview_counts_what_happened(clinic):
    clinic_a, _setup = clinic
    with clinic_context(clinic_a):
        report = overview(clinic=clinic_a, now=NOW)

    per_day = dict(report.days)
    assert len(report.days) == 30 and report.days[-1][0] == dt.date(2031, 3, 28)
    assert per_day[dt.date(2031, 3, 3)] == 2  # booked and no-show both held the time
    assert per_day[dt.date(2031, 3, 4)] == 0  # cancelled
    assert sum(per_day.values()) == 4
    assert (report.total, report.happened, report.no_shows) == (6, 4, 1)
    assert (report.cancelled_by_client, report.cancelled_by_clinic) == (1, 1)
    assert report.no_show_rate == 25
    assert report.client_cancel_rate == 17  # 1 of 6
    assert report.today == 1 and report.next_start is None  # 09:00 today has passed
    # Working time: 7 hours each weekday of the 30 days, less the sick morning and the closure.
    [staff] = report.utilisation
    weekdays = sum(1 for day, _ in report.days if day.weekday() < 5)
    working = weekdays * 420 - 180 - 420
    assert staff.working_min == working
    assert staff.booked_min == 4 * 60
    assert staff.percent == round(100 * 240 / working)


def test_the_overview_page_shows_charts_without_client_names(clinic, member_client):
    clinic_a, _setup = clinic
    with time_machine.travel(NOW, tick=False):
        _, viewer = member_client(clinic_a, Role.READ_ONLY)
        html = viewer.get(f"/c/{clinic_a.slug}/").content.decode()
    assert "<svg" in html and "Bookings per day" in html
    assert "25%" in html  # the no-show rate
    assert "Zelda" not in html and "Quibblestone" not in html  # counts, never who


def test_the_overview_uses_a_fixed_number_of_queries(clinic):
    clinic_a, setup = clinic

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx, clinic_context(clinic_a):
            overview(clinic=clinic_a, now=NOW)
        return len(ctx.captured_queries)

    small = count()
    with clinic_context(clinic_a), time_machine.travel(_at(1, 8), tick=False):
        for day in range(16, 27):
            for hour in (9, 10, 11, 13, 14, 15):
                appointment_book(
                    clinic=clinic_a,
                    request=BookingRequest(
                        service=setup.service, staff=setup.staff, start=_at(day, hour)
                    ),
                )
    with clinic_context(clinic_a):
        assert Appointment.objects.count() > 40
    assert count() == small
