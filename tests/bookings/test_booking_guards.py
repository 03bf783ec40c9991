"""What a review of the booking services found, each fixed and held by a test: the database's
own guarantee, classes in rooms, shared rooms on reschedule, objects from another clinic,
junk statuses and overrides, time off and closures."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from bookwell.bookings.models import Appointment, Status
from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_set_status,
)
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.core.errors import Conflict, ServiceError
from bookwell.scheduling.models import ClinicClosure, DateOverride, Room, TimeOff, WorkingHours
from bookwell.scheduling.selectors import availability
from tests.bookings.factories import schedule, together

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Berlin
AT = dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC)  # Wednesday, 10:00 in Berlin


def _hours(setup, staff=None):
    for weekday in range(7):
        WorkingHours.objects.create(
            clinic=setup.clinic,
            staff=staff or setup.staff,
            location=setup.location,
            weekday=weekday,
            start_min=8 * 60,
            end_min=18 * 60,
        )


def _book(setup, start, idempotency_key=None, **kw):
    fields = {"service": setup.service, "staff": setup.staff, "start": start, **kw}
    return appointment_book(
        clinic=setup.clinic, request=BookingRequest(**fields), idempotency_key=idempotency_key
    )


@pytest.mark.postgres
def test_postgres_refuses_overlaps_written_around_the_services(clinic_a, clock):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")
    setup = schedule(clinic_a, with_room=True)
    with clinic_context(clinic_a):
        first = _book(setup, AT)
        raw = {
            "clinic": clinic_a,
            "service": setup.service,
            "start": AT + dt.timedelta(minutes=10),
            "end": AT + dt.timedelta(minutes=40),
            "block_start": AT + dt.timedelta(minutes=10),
            "block_end": AT + dt.timedelta(minutes=40),
        }
        # A private row with an empty overlap key, for the same staff member: refused.
        with pytest.raises(IntegrityError), transaction.atomic():
            Appointment.objects.create(staff=setup.staff, overlap_key="", **raw)
        # Another staff member in the same single room, "not exclusive": refused all the same.
        with pytest.raises(IntegrityError), transaction.atomic():
            row_id = uuid.uuid4()
            Appointment.objects.create(
                id=row_id,
                staff=setup.other_staff,
                room=first.room,
                room_exclusive=False,
                overlap_key=str(row_id),
                **raw,
            )
        assert Appointment.objects.count() == 1


def test_a_class_shares_its_single_room_among_its_seats(clinic_a, clock):
    setup = schedule(clinic_a, with_room=True, capacity=3, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        _hours(setup)
        people = [
            client_create(clinic=clinic_a, data=ClientInput(full_name=f"Seat {i}"))
            for i in range(3)
        ]
        one = _book(setup, AT, client=people[0])
        slots = availability(
            clinic=clinic_a, service=setup.service, first=AT.date(), last=AT.date()
        )
        at = next(s for s in slots if s.start == int(AT.timestamp()))
        assert setup.room.pk in at.rooms  # still offered, in its room
        two = _book(setup, AT, client=people[1])
        assert one.room_id == two.room_id == setup.room.pk
        # Someone else's private booking in that room at that time: refused.
        setup.service.capacity = 1
        setup.service.save()
        with pytest.raises(SlotTaken):
            _book(setup, AT + dt.timedelta(minutes=30), staff=setup.other_staff)


def test_a_move_into_a_full_shared_room_takes_another_room_or_is_refused(clinic_a, clock):
    setup = schedule(clinic_a, with_room=True, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        shared = setup.room
        shared.capacity = 2
        shared.save()
        third = schedule(clinic_a).staff  # a third staff member
        setup.service.staff.add(third, through_defaults={"clinic": clinic_a})
        _book(setup, AT)
        _book(setup, AT, staff=setup.other_staff)
        later = _book(setup, AT + dt.timedelta(hours=3), staff=third)
        with pytest.raises(SlotTaken):
            appointment_reschedule(clinic=clinic_a, appointment=later, start=AT)
        spare = Room.objects.create(clinic=clinic_a, location=setup.location, name="Spare")
        setup.service.rooms.add(spare, through_defaults={"clinic": clinic_a})
        moved = appointment_reschedule(clinic=clinic_a, appointment=later, start=AT)
        assert moved.room_id == spare.pk
        in_shared = Appointment.objects.filter(
            room=shared, start=AT, status=Status.CONFIRMED
        ).count()
        assert in_shared == 2


def test_objects_of_another_clinic_are_refused(clinic_a, clinic_b, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_b):
        stranger = client_create(clinic=clinic_b, data=ClientInput(full_name="Other Clinic"))
    with clinic_context(clinic_a):
        with pytest.raises(ServiceError) as refused:
            _book(setup, AT, client=stranger)
        assert refused.value.code == "foreign_object"
        assert Appointment.objects.count() == 0


def test_a_junk_status_or_override_is_a_clear_error(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        appointment = _book(setup, AT)
        with pytest.raises(Conflict):
            appointment_set_status(appointment=appointment, status="bogus")
        bad = DateOverride(
            clinic=clinic_a,
            staff=setup.staff,
            location=setup.location,
            date=AT.date(),
            intervals=[[600, 500], "x"],
        )
        with pytest.raises(ValidationError):
            bad.full_clean()
        bad.save()  # even if junk got stored, availability does not crash on it
        assert (
            availability(clinic=clinic_a, service=setup.service, first=AT.date(), last=AT.date())
            == []
        )


def test_an_empty_exception_reason_is_no_reason(clinic_a, clock):
    setup = schedule(clinic_a, cancel_notice_min=24 * 60)
    with clinic_context(clinic_a):
        soon = _book(setup, START + dt.timedelta(hours=5))
        later = _book(setup, AT)
        with pytest.raises(Conflict) as late:
            appointment_cancel(appointment=soon, by_client=True, override_reason="")
        assert late.value.code == "too_late"
        appointment_cancel(appointment=later, by_client=True, override_reason="")
        later.refresh_from_db()
        assert later.status == Status.CANCELLED_BY_CLIENT and later.override_reason == ""


def test_a_client_who_arrived_cannot_become_a_no_show(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        appointment = _book(setup, AT)
        appointment_set_status(appointment=appointment, status=Status.CHECKED_IN)
        with pytest.raises(Conflict):
            appointment_set_status(appointment=appointment, status=Status.NO_SHOW)


def test_nobody_is_booked_into_time_off_or_a_closed_day(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        TimeOff.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            start=AT - dt.timedelta(hours=1),
            end=AT + dt.timedelta(hours=1),
            category="vacation",
        )
        ClinicClosure.objects.create(
            clinic=clinic_a, first_day=dt.date(2031, 3, 6), last_day=dt.date(2031, 3, 6)
        )
        with pytest.raises(Conflict) as away:
            _book(setup, AT)
        assert away.value.code == "staff_away"
        with pytest.raises(Conflict) as closed:
            _book(setup, AT + dt.timedelta(days=1), staff=setup.other_staff)
        assert closed.value.code == "clinic_closed"
        assert Appointment.objects.count() == 0


@pytest.mark.parametrize("source", ["online", "api"])
def test_bookings_availability_must_offer_say_why_they_are_refused(clinic_a, clock, source):
    """Availability weighs the staff member, other bookings, time off and closures at once;
    a refused booking still gets the reason's own code, and nothing is written."""
    from bookwell.scheduling.models import StaffMember

    setup = schedule(clinic_a, online_bookable=True)
    with clinic_context(clinic_a):
        _hours(setup)
        _hours(setup, setup.other_staff)
        stranger = StaffMember.objects.create(clinic=clinic_a, display_name="Other Service")
        _hours(setup, stranger)
        _book(setup, AT, source=source)  # offered: booked
        with pytest.raises(SlotTaken):
            _book(setup, AT, source=source)  # the same time again
        with pytest.raises(ServiceError) as wrong:
            _book(setup, AT + dt.timedelta(hours=1), staff=stranger, source=source)
        assert wrong.value.code == "wrong_staff"
        TimeOff.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            start=AT + dt.timedelta(hours=2),
            end=AT + dt.timedelta(hours=3),
            category="vacation",
        )
        with pytest.raises(Conflict) as away:
            _book(setup, AT + dt.timedelta(hours=2), source=source)
        assert away.value.code == "staff_away"
        ClinicClosure.objects.create(
            clinic=clinic_a, first_day=dt.date(2031, 3, 7), last_day=dt.date(2031, 3, 7)
        )
        with pytest.raises(Conflict) as closed:
            _book(setup, AT + dt.timedelta(days=2), staff=setup.other_staff, source=source)
        assert closed.value.code == "clinic_closed"
        assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_retries_of_one_no_preference_request_racing_get_the_same_appointment(clinic_a):
    from bookwell.bookings.services import appointment_book_any_staff

    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a, min_notice_min=0)
    with clinic_context(clinic_a):
        _hours(setup)
        _hours(setup, setup.other_staff)
    start = dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC)

    def attempt(i: int):
        with clinic_context(clinic_a), time_machine.travel(START, tick=False):
            return appointment_book_any_staff(
                clinic=clinic_a, service=setup.service, start=start, idempotency_key="retry-1"
            ).pk

    results, errors = together(6, attempt)

    assert errors == []
    assert len(set(results)) == 1
    with clinic_context(clinic_a):
        assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_key_sent_with_different_requests_at_once_is_a_conflict_not_a_taken_time(clinic_a):
    setup = schedule(clinic_a)

    def attempt(i: int):
        with clinic_context(clinic_a), time_machine.travel(START, tick=False):
            return _book(setup, AT + dt.timedelta(hours=i), idempotency_key="same-key").pk

    results, errors = together(5, attempt)

    assert len(results) == 1
    assert len(errors) == 4
    assert all(isinstance(e, Conflict) and e.code == "idempotency_conflict" for e in errors)


def test_two_teachers_classes_at_one_time_never_share_a_single_room(clinic_a, clock):
    setup = schedule(clinic_a, with_room=True, capacity=4, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        _book(setup, AT)
        with pytest.raises(SlotTaken):
            _book(setup, AT, staff=setup.other_staff)  # the only room is the first class's
        spare = Room.objects.create(clinic=clinic_a, location=setup.location, name="Spare")
        setup.service.rooms.add(spare, through_defaults={"clinic": clinic_a})
        second = _book(setup, AT, staff=setup.other_staff)
        assert second.room_id == spare.pk
        # A seat of the first class still goes to the first class's room.
        assert _book(setup, AT).room_id == setup.room.pk


@pytest.mark.django_db(transaction=True)
def test_racing_retries_for_one_named_staff_member_all_get_the_appointment(clinic_a):
    setup = schedule(clinic_a)

    def attempt(i: int):
        with clinic_context(clinic_a), time_machine.travel(START, tick=False):
            return _book(setup, AT, idempotency_key="one-request").pk

    results, errors = together(5, attempt)

    assert errors == []
    assert len(set(results)) == 1


def test_a_waitlist_offer_for_a_clinic_only_service_can_be_accepted(clinic_a, clock):
    from bookwell.bookings.models import WaitlistOffer
    from bookwell.bookings.waitlist import waitlist_accept, waitlist_join

    setup = schedule(clinic_a, online_bookable=False)
    with clinic_context(clinic_a):
        _hours(setup)
        holder = _book(setup, AT)
        person = client_create(clinic=clinic_a, data=ClientInput(full_name="Waiting"))
        waitlist_join(
            clinic=clinic_a,
            client=person,
            service=setup.service,
            first_day=AT.date(),
            last_day=AT.date(),
        )
        appointment_cancel(appointment=holder, by_client=False)
        offer = WaitlistOffer.objects.get()
        booked = waitlist_accept(clinic=clinic_a, offer=offer)
        assert booked.client_id == person.pk and booked.start == AT


def test_making_a_shared_room_single_under_shared_bookings_is_a_form_error(clinic_a, clock):
    from bookwell.scheduling.services import catalog_save

    setup = schedule(clinic_a, with_room=True)
    with clinic_context(clinic_a):
        room = setup.room
        room.capacity = 2
        room.save()
        _book(setup, AT)
        _book(setup, AT, staff=setup.other_staff)
        room.capacity = 1
        if connection.vendor == "postgresql":
            with pytest.raises(ValidationError):
                catalog_save(clinic=clinic_a, obj=room)
        else:  # SQLite keeps no room constraint; the application checks at booking time
            catalog_save(clinic=clinic_a, obj=room)


@pytest.mark.parametrize("current", list(Status))
def test_the_whole_transition_table(clinic_a, clock, current):
    from bookwell.bookings.services import TRANSITIONS

    setup = schedule(clinic_a)
    for target in Status:
        with clinic_context(clinic_a):
            appointment = _book(setup, AT)
            Appointment.objects.filter(pk=appointment.pk).update(status=current)
            appointment.refresh_from_db()
            if target in TRANSITIONS[current]:
                appointment_set_status(appointment=appointment, status=target)
                appointment.refresh_from_db()
                assert appointment.status == target
            else:
                with pytest.raises(Conflict):
                    appointment_set_status(appointment=appointment, status=target)
                appointment.refresh_from_db()
                assert appointment.status == current
            Appointment.objects.filter(pk=appointment.pk).delete()


def test_a_waitlist_place_or_a_move_with_another_clinics_objects_is_refused(
    clinic_a, clinic_b, clock
):
    from bookwell.bookings.waitlist import waitlist_join

    setup = schedule(clinic_a)
    other = schedule(clinic_b)
    with clinic_context(clinic_b):
        stranger = client_create(clinic=clinic_b, data=ClientInput(full_name="Other Clinic"))
        theirs = _book(other, AT)
    with clinic_context(clinic_a), pytest.raises(ServiceError) as refused:
        waitlist_join(
            clinic=clinic_a,
            client=stranger,
            service=setup.service,
            first_day=AT.date(),
            last_day=AT.date(),
        )
    assert refused.value.code == "foreign_object"
    with clinic_context(clinic_b), pytest.raises(ServiceError):
        appointment_reschedule(
            clinic=clinic_a, appointment=theirs, start=AT + dt.timedelta(hours=2)
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("source", ["online", "api"])
def test_online_and_api_bookings_racing_for_one_time_let_exactly_one_through(clinic_a, source):
    """Their staff lock travels with availability's reads (one round trip on PostgreSQL):
    racing requests for overlapping times still queue on it and exactly one is booked."""
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a, min_notice_min=0, online_bookable=True)
    with clinic_context(clinic_a):
        _hours(setup)
    workers = 16 if connection.vendor == "postgresql" else 6

    def attempt(i: int):
        with clinic_context(clinic_a), time_machine.travel(START, tick=False):
            return _book(setup, AT + dt.timedelta(minutes=i % 3), source=source).pk

    results, errors = together(workers, attempt)

    assert len(results) == 1
    assert len(errors) == workers - 1
    assert all(isinstance(e, SlotTaken) for e in errors), errors
    with clinic_context(clinic_a):
        assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_online_booking_holds_its_staff_members_lock_from_availabilitys_reads(clinic_a):
    """While the booking's transaction is open after availability has read, nobody else can
    lock that staff member (PostgreSQL; what keeps two bookings from both seeing a free time)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite's writer holds the whole database)")
    import psycopg
    from django.db import connections

    from bookwell.bookings.models import Source
    from bookwell.bookings.services import _offered_rooms

    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a, min_notice_min=0, online_bookable=True)
    with clinic_context(clinic_a):
        _hours(setup)
    request = BookingRequest(
        service=setup.service, staff=setup.staff, start=AT, source=Source.ONLINE
    )
    owner = connections["default"].settings_dict
    other = psycopg.connect(
        host=owner["HOST"] or None,
        port=owner["PORT"] or None,
        user=owner["USER"],
        dbname=owner["NAME"],
        autocommit=True,
    )
    table = setup.staff._meta.db_table
    probe = f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT"
    try:
        with time_machine.travel(START, tick=False), clinic_context(clinic_a):
            with transaction.atomic():
                assert _offered_rooms(clinic_a, request, lock_staff=True) is not None
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("SELECT set_config('bookwell.all_clinics', 'on', false)")
                    other.execute(probe, [setup.staff.pk])
            # Without the lock (as the staff path reads), the row is free to lock.
            with transaction.atomic():
                assert _offered_rooms(clinic_a, request) is not None
                other.execute(probe, [setup.staff.pk])
    finally:
        other.close()
