"""Classes: seats are counted under a row lock; a full class is no longer offered."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from bookwell.bookings.models import BLOCKING, Appointment
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.core.errors import Conflict
from bookwell.scheduling.models import Service, StaffMember, WorkingHours
from bookwell.scheduling.selectors import availability
from tests.bookings.factories import race, schedule

CLASS = dt.datetime(2031, 6, 2, 16, 0, tzinfo=dt.UTC)  # 18:00 Berlin


def _class_setup(clinic, capacity=3):
    setup = schedule(
        clinic,
        duration_min=60,
        buffer_after_min=0,
        slot_interval_min=60,
        capacity=capacity,
        min_notice_min=0,
    )
    with clinic_context(clinic):
        WorkingHours.objects.create(
            clinic=clinic,
            staff=setup.staff,
            location=setup.location,
            weekday=0,
            start_min=17 * 60,
            end_min=20 * 60,
        )
        clients = [
            client_create(clinic=clinic, data=ClientInput(full_name=f"Student Number{i}"))
            for i in range(8)
        ]
    return setup, clients


def seat(setup, client, start=CLASS):
    with clinic_context(setup.clinic):
        return appointment_book(
            clinic=setup.clinic,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start, client=client
            ),
        )


def offered(setup):
    with clinic_context(setup.clinic):
        return [
            s.start
            for s in availability(
                clinic=setup.clinic,
                service=setup.service,
                first=CLASS.date(),
                last=CLASS.date(),
                now=CLASS - dt.timedelta(days=1),
            )
        ]


@pytest.mark.django_db
def test_a_class_takes_seats_until_full_and_is_then_no_longer_offered(clinic_a):
    setup, clients = _class_setup(clinic_a)
    stamp = int(CLASS.timestamp())
    assert stamp in offered(setup)
    for client in clients[:3]:
        assert seat(setup, client).group_seat
        with pytest.raises(Conflict, match="already has a seat"):
            seat(setup, client)
        if client is not clients[2]:
            assert stamp in offered(setup)
    with pytest.raises(SlotTaken):
        seat(setup, clients[3])
    assert stamp not in offered(setup)
    # The full class blocks only its own hour: the next start (touching, not overlapping) is
    # offered.
    assert int((CLASS + dt.timedelta(minutes=60)).timestamp()) in offered(setup)


@pytest.mark.django_db
def test_a_private_booking_cannot_overlap_a_class(clinic_a):
    setup, clients = _class_setup(clinic_a)
    seat(setup, clients[0])
    with clinic_context(clinic_a):
        private = Service.objects.create(clinic=clinic_a, name="Private", duration_min=30)
        private.staff.set([setup.staff], through_defaults={"clinic": clinic_a})
        with pytest.raises(SlotTaken):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=private, staff=setup.staff, start=CLASS + dt.timedelta(minutes=30)
                ),
            )


@pytest.mark.django_db(transaction=True)
def test_racing_students_fill_a_class_exactly(clinic_a):
    setup, clients = _class_setup(clinic_a)
    workers = 8 if connection.vendor == "postgresql" else 6
    won, lost, errors = race(workers, lambda i: seat(setup, clients[i]))
    assert errors == []
    assert (won, lost) == (3, workers - 3)
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(status__in=BLOCKING, group_seat=True).count() == 3


@pytest.mark.django_db
def test_postgres_refuses_a_private_booking_over_a_class_even_past_the_application(clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    from django.db import IntegrityError, transaction

    setup, clients = _class_setup(clinic_a)
    first = seat(setup, clients[0])
    seat(setup, clients[1])  # seats of one class share their time
    with clinic_context(clinic_a), pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            clinic=clinic_a,
            service=setup.service,
            staff=setup.staff,
            start=first.start,
            end=first.end,
            block_start=first.block_start,
            block_end=first.block_end,
            overlap_key="some-private-booking",
        )


@pytest.mark.django_db
def test_a_client_reschedule_goes_only_to_an_offered_time(clinic_a, clock):
    from bookwell.bookings.services import appointment_reschedule

    setup, clients = _class_setup(clinic_a, capacity=1)
    clock.move_to(CLASS - dt.timedelta(days=3))
    booked = seat(setup, clients[0])
    with clinic_context(clinic_a):
        off_grid = CLASS + dt.timedelta(minutes=67)
        with pytest.raises(SlotTaken):
            appointment_reschedule(
                clinic=clinic_a, appointment=booked, start=off_grid, by_client=True
            )
        next_hour = CLASS + dt.timedelta(hours=1)
        moved = appointment_reschedule(
            clinic=clinic_a, appointment=booked, start=next_hour, by_client=True
        )
        assert moved.start == next_hour
        # Staff may still place it anywhere free.
        assert (
            appointment_reschedule(clinic=clinic_a, appointment=booked, start=off_grid).start
            == off_grid
        )


@pytest.mark.django_db
def test_a_shared_room_takes_no_more_than_its_capacity(clinic_a):
    from bookwell.scheduling.models import Room

    setup = schedule(
        clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60, min_notice_min=0
    )
    with clinic_context(clinic_a):
        shared = Room.objects.create(
            clinic=clinic_a, location=setup.location, name="Gym", capacity=2
        )
        setup.service.rooms.set([shared], through_defaults={"clinic": clinic_a})
        third = StaffMember.objects.create(clinic=clinic_a, display_name="Dr. Three")
        setup.service.staff.add(third, through_defaults={"clinic": clinic_a})
        for member in (setup.staff, setup.other_staff, third):
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=member,
                location=setup.location,
                weekday=0,
                start_min=17 * 60,
                end_min=20 * 60,
            )
        for member in (setup.staff, setup.other_staff):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(service=setup.service, staff=member, start=CLASS),
            )
        with pytest.raises(SlotTaken):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(service=setup.service, staff=third, start=CLASS),
            )
    assert int(CLASS.timestamp()) not in offered(setup)
