"""The catalogue and schedule pages: services, staff, locations and rooms created, edited and
archived through the pages; weekly hours with breaks, overrides, time off and closures, and
what availability then offers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookwell.accounts.models import User
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    Service,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.scheduling.selectors import availability
from bookwell.tenancy.permissions import Role
from tests.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Berlin
MONDAY = dt.date(2031, 3, 10)


@pytest.fixture
def owner(clinic_a, member_client, clock):
    # Signed in on the test's clock (a session from another time would have ended).
    return member_client(clinic_a, Role.OWNER)[1]


def _url(name: str, clinic, **kwargs) -> str:
    return reverse(f"scheduling:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def _service_data(**extra):
    return {
        "name": "Deep tissue",
        "duration_min": 45,
        "buffer_before_min": 0,
        "buffer_after_min": 15,
        "price": "70.50",
        "currency": "eur",
        "slot_interval_min": 15,
        "min_notice_min": 60,
        "max_advance_days": 60,
        "cancel_notice_min": 1440,
        "reschedule_notice_min": 1440,
        "online_bookable": "on",
        "assignment_policy": "least_booked",
        "capacity": 1,
        **extra,
    }


def _place(clinic) -> tuple[Location, StaffMember]:
    with clinic_context(clinic):
        location = Location.objects.create(clinic=clinic, name="Main", time_zone="Europe/Berlin")
        staff = StaffMember.objects.create(clinic=clinic, display_name="Dr. Page")
    return location, staff


def _starts(clinic, service, day) -> list[str]:
    with clinic_context(clinic):
        slots = availability(clinic=clinic, service=service, first=day, last=day)
    return [dt.datetime.fromtimestamp(s.start, dt.UTC).strftime("%H:%M") for s in slots]


def test_a_service_is_created_edited_and_archived_through_the_pages(clinic_a, owner, clock):
    location, staff = _place(clinic_a)
    with clinic_context(clinic_a):
        room = Room.objects.create(clinic=clinic_a, location=location, name="R1")
        WorkingHours.objects.create(
            clinic=clinic_a, staff=staff, location=location, weekday=0, start_min=540, end_min=600
        )

    created = owner.post(
        _url("services-new", clinic_a), _service_data(staff=[staff.pk], rooms=[room.pk])
    )

    assert created.status_code == 302
    with clinic_context(clinic_a):
        service = Service.objects.get()
        assert (service.price_cents, service.currency) == (7050, "EUR")
        assert list(service.staff.all()) == [staff]
        assert list(service.rooms.all()) == [room]
    # 09:00 and 09:15 Berlin: 45 minutes fit the hour; the buffer after may run past it.
    assert _starts(clinic_a, service, MONDAY) == ["08:00", "08:15"]

    owner.post(
        _url("services-edit", clinic_a, object_id=service.pk),
        _service_data(name="Deep tissue (long)", duration_min=60, staff=[staff.pk]),
    )
    with clinic_context(clinic_a):
        service.refresh_from_db()
        assert service.name == "Deep tissue (long)" and not service.rooms.exists()

    owner.post(_url("services-archive", clinic_a, object_id=service.pk), {"archived": "1"})
    with clinic_context(clinic_a):
        service.refresh_from_db()
        assert service.archived
    listed = owner.get(_url("services", clinic_a)).content.decode()
    assert "Archived" in listed and "Use again" in listed
    public = owner.get(reverse("book:services", kwargs={"clinic_slug": clinic_a.slug}))
    assert "Deep tissue" not in public.content.decode()


def test_a_new_service_starts_from_the_clinics_default_rules(clinic_a, owner):
    clinic_a.default_min_notice_min = 240
    clinic_a.default_cancel_notice_min = 2880
    clinic_a.save()

    form = owner.get(_url("services-new", clinic_a)).content.decode()

    assert 'name="min_notice_min" value="240"' in form
    assert 'name="reschedule_notice_min" value="2880"' in form


def test_bad_service_input_shows_errors_and_writes_nothing(clinic_a, owner):
    response = owner.post(
        _url("services-new", clinic_a),
        _service_data(duration_min=2, currency="E1R", price="-1", capacity=0),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "three-letter currency" in html
    with clinic_context(clinic_a):
        assert not Service.objects.exists()


def test_a_staff_member_links_only_to_a_member_of_this_clinic(clinic_a, owner):
    colleague = make_member(clinic_a, Role.PRACTITIONER, full_name="Pat Colleague")
    stranger = UserFactory(full_name="Sam Stranger")

    linked = owner.post(
        _url("staff-new", clinic_a),
        {"display_name": "Pat", "bookable": "on", "user": colleague.pk},
    )
    refused = owner.post(
        _url("staff-new", clinic_a),
        {"display_name": "Sam", "bookable": "on", "user": stranger.pk},
    )

    assert linked.status_code == 302
    assert refused.status_code == 400
    with clinic_context(clinic_a):
        assert list(StaffMember.objects.values_list("display_name", "user_id")) == [
            ("Pat", colleague.pk)
        ]
    assert User.objects.filter(pk=stranger.pk).exists()


def test_locations_and_rooms_through_the_pages(clinic_a, owner):
    owner.post(
        _url("locations-new", clinic_a),
        {"name": "Harbour", "address": "Pier 1", "time_zone": "Europe/Lisbon"},
    )
    with clinic_context(clinic_a):
        location = Location.objects.get()
    owner.post(_url("rooms-new", clinic_a), {"location": location.pk, "name": "Gym", "capacity": 6})
    with clinic_context(clinic_a):
        room = Room.objects.get()
    assert (location.time_zone, room.capacity, room.location_id) == (
        "Europe/Lisbon",
        6,
        location.pk,
    )
    bad = owner.post(
        _url("rooms-new", clinic_a), {"location": location.pk, "name": "X", "capacity": 0}
    )
    assert bad.status_code == 400


def test_archiving_staff_keeps_their_appointments_and_says_how_many(clinic_a, owner, clock):
    from bookwell.bookings.services import BookingRequest, appointment_book

    _location, staff = _place(clinic_a)
    with clinic_context(clinic_a):
        service = Service.objects.create(clinic=clinic_a, name="S", duration_min=30)
        service.staff.add(staff, through_defaults={"clinic": clinic_a})
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=service, staff=staff, start=START + dt.timedelta(days=2)
            ),
        )

    page = owner.get(_url("staff-edit", clinic_a, object_id=staff.pk)).content.decode()
    owner.post(_url("staff-archive", clinic_a, object_id=staff.pk), {"archived": "1"})

    assert "1 upcoming appointment is booked" in page
    with clinic_context(clinic_a):
        staff.refresh_from_db()
        assert staff.archived and staff.appointments.count() == 1
    assert _starts(clinic_a, service, MONDAY) == []


def test_weekly_hours_with_a_break_are_what_availability_offers(clinic_a, owner, clock):
    location, staff = _place(clinic_a)
    with clinic_context(clinic_a):
        service = Service.objects.create(
            clinic=clinic_a, name="S", duration_min=60, slot_interval_min=60, min_notice_min=0
        )
        service.staff.add(staff, through_defaults={"clinic": clinic_a})

    saved = owner.post(
        _url("schedule", clinic_a, staff_id=staff.pk),
        {f"h_{location.pk}_0": "09:00-11:00, 12:00-13:00"},
    )

    assert saved.status_code == 302
    # Berlin is UTC+1 in March: 09:00 and 10:00, then 12:00 local (11:00 is the break).
    assert _starts(clinic_a, service, MONDAY) == ["08:00", "09:00", "11:00"]
    page = owner.get(_url("schedule", clinic_a, staff_id=staff.pk)).content.decode()
    assert 'value="09:00-11:00, 12:00-13:00"' in page


@pytest.mark.parametrize("text", ["09:00-12:00, 11:00-13:00", "12:00-09:00", "9-5", "25:00-26:00"])
def test_bad_weekly_hours_are_refused_and_nothing_changes(clinic_a, owner, text):
    location, staff = _place(clinic_a)
    with clinic_context(clinic_a):
        WorkingHours.objects.create(
            clinic=clinic_a, staff=staff, location=location, weekday=1, start_min=600, end_min=660
        )

    response = owner.post(
        _url("schedule", clinic_a, staff_id=staff.pk), {f"h_{location.pk}_0": text}
    )

    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    with clinic_context(clinic_a):
        assert list(WorkingHours.objects.values_list("weekday", "start_min")) == [(1, 600)]


def test_time_off_entered_across_the_spring_change_is_stored_in_utc(clinic_a, owner):
    _, staff = _place(clinic_a)

    owner.post(
        _url("time-off-add", clinic_a, staff_id=staff.pk),
        {"start": "2031-03-30T01:00", "end": "2031-03-30T04:00", "category": "training"},
    )

    with clinic_context(clinic_a):
        time_off = TimeOff.objects.get()
    # Clocks jump from 02:00 to 03:00 that night: 01:00 CET is 00:00Z, 04:00 CEST is 02:00Z.
    assert time_off.start == dt.datetime(2031, 3, 30, 0, 0, tzinfo=dt.UTC)
    assert time_off.end == dt.datetime(2031, 3, 30, 2, 0, tzinfo=dt.UTC)


def test_a_day_off_and_a_closure_take_the_days_out(clinic_a, owner, clock):
    location, staff = _place(clinic_a)
    with clinic_context(clinic_a):
        service = Service.objects.create(
            clinic=clinic_a, name="S", duration_min=60, slot_interval_min=60, min_notice_min=0
        )
        service.staff.add(staff, through_defaults={"clinic": clinic_a})
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=staff,
                location=location,
                weekday=weekday,
                start_min=540,
                end_min=600,
            )

    owner.post(
        _url("override-add", clinic_a, staff_id=staff.pk),
        {"date": MONDAY.isoformat(), "location": location.pk, "hours": ""},
    )
    owner.post(
        _url("closures", clinic_a),
        {"first_day": "2031-03-11", "last_day": "2031-03-11", "label": "Holiday"},
    )

    assert _starts(clinic_a, service, MONDAY) == []
    assert _starts(clinic_a, service, dt.date(2031, 3, 11)) == []
    assert _starts(clinic_a, service, dt.date(2031, 3, 12)) == ["08:00"]
    with clinic_context(clinic_a):
        override = DateOverride.objects.get()
        closure = ClinicClosure.objects.get()
    owner.post(_url("override-delete", clinic_a, override_id=override.pk))
    owner.post(_url("closure-delete", clinic_a, closure_id=closure.pk))
    assert _starts(clinic_a, service, MONDAY) == ["08:00"]


def test_a_front_desk_user_keeps_hours_but_not_the_catalogue(clinic_a, member_client, clock):
    _, staff = _place(clinic_a)
    _, desk = member_client(clinic_a, Role.FRONT_DESK)

    assert desk.get(_url("schedule", clinic_a, staff_id=staff.pk)).status_code == 200
    assert desk.get(_url("services", clinic_a)).status_code == 403


@pytest.mark.parametrize("kind", ["services", "staff", "locations", "rooms"])
def test_catalogue_lists_use_a_fixed_number_of_queries(clinic_a, owner, kind):
    def queries() -> int:
        owner.get(_url(kind, clinic_a))
        with CaptureQueriesContext(connection) as ctx:
            assert owner.get(_url(kind, clinic_a)).status_code == 200
        return len(ctx.captured_queries)

    def grow(n: int) -> None:
        with clinic_context(clinic_a):
            location = Location.objects.create(clinic=clinic_a, name="L", time_zone="UTC")
            for i in range(n):
                Service.objects.create(clinic=clinic_a, name=f"S{i}", duration_min=30)
                StaffMember.objects.create(clinic=clinic_a, display_name=f"P{i}")
                Room.objects.create(clinic=clinic_a, location=location, name=f"R{i}")

    grow(1)
    small = queries()
    grow(15)
    assert queries() == small
