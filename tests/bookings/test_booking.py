"""Booking: never a double booking, idempotent, transitions and notice windows in one place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from bookwell.bookings.models import BLOCKING, Appointment, Status
from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_set_status,
)
from bookwell.core.context import clinic_context
from bookwell.core.errors import Conflict, ServiceError
from tests.bookings.factories import race, schedule

T0 = dt.datetime(2031, 6, 2, 9, 0, tzinfo=dt.UTC)


def book(setup, start, *, staff=None, key=None, room=None):
    with clinic_context(setup.clinic):
        return appointment_book(
            clinic=setup.clinic,
            request=BookingRequest(
                service=setup.service, staff=staff or setup.staff, start=start, room=room
            ),
            idempotency_key=key,
        )


@pytest.mark.django_db
def test_overlapping_bookings_of_one_staff_member_are_refused_with_a_clear_error(clinic_a):
    setup = schedule(clinic_a)
    book(setup, T0)
    with pytest.raises(SlotTaken, match="no longer available"):
        book(setup, T0 + dt.timedelta(minutes=35))  # inside the 10 minute buffer after
    book(setup, T0 + dt.timedelta(minutes=40))  # touching the buffer is fine
    book(setup, T0, staff=setup.other_staff)  # someone else is free
    with clinic_context(clinic_a):
        assert Appointment.objects.count() == 3


@pytest.mark.django_db
def test_a_single_capacity_room_is_not_double_booked(clinic_a):
    setup = schedule(clinic_a, with_room=True)
    first = book(setup, T0)
    assert first.room == setup.room and first.room_exclusive
    with pytest.raises(SlotTaken):
        book(setup, T0, staff=setup.other_staff)


@pytest.mark.django_db
def test_a_cancelled_appointment_frees_its_time(clinic_a):
    setup = schedule(clinic_a)
    first = book(setup, T0)
    with clinic_context(clinic_a):
        appointment_cancel(appointment=first, by_client=False)
    assert book(setup, T0).status == Status.CONFIRMED


@pytest.mark.django_db
def test_the_same_idempotency_key_returns_the_same_appointment(clinic_a):
    setup = schedule(clinic_a)
    first = book(setup, T0, key="req-1")
    again = book(setup, T0, key="req-1")
    assert again.pk == first.pk
    with pytest.raises(Conflict, match="different request"):
        book(setup, T0 + dt.timedelta(hours=2), key="req-1")
    with clinic_context(clinic_a):
        assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_status_transitions_are_enforced_in_one_place(clinic_a):
    setup = schedule(clinic_a)
    appointment = book(setup, T0)
    with clinic_context(clinic_a):
        with pytest.raises(Conflict, match="cannot become"):
            appointment_set_status(appointment=appointment, status=Status.COMPLETED)
        appointment_set_status(appointment=appointment, status=Status.CHECKED_IN)
        appointment_set_status(appointment=appointment, status=Status.COMPLETED)
        with pytest.raises(Conflict):
            appointment_cancel(appointment=appointment, by_client=False)
        assert Appointment.objects.get(pk=appointment.pk).status == Status.COMPLETED


@pytest.mark.django_db
def test_clients_cannot_cancel_or_move_inside_the_notice_window_but_staff_may(clinic_a, clock):
    setup = schedule(clinic_a, cancel_notice_min=24 * 60, reschedule_notice_min=24 * 60)
    clock.move_to(T0 - dt.timedelta(hours=3))
    appointment = book(setup, T0)
    with clinic_context(clinic_a):
        with pytest.raises(Conflict, match="too late"):
            appointment_cancel(appointment=appointment, by_client=True)
        with pytest.raises(Conflict, match="too late"):
            appointment_reschedule(
                clinic=clinic_a,
                appointment=appointment,
                start=T0 + dt.timedelta(hours=1),
                by_client=True,
            )
        moved = appointment_reschedule(
            clinic=clinic_a, appointment=appointment, start=T0 + dt.timedelta(hours=1)
        )
        assert moved.start == T0 + dt.timedelta(hours=1)
        with pytest.raises(ServiceError, match="reason"):
            appointment_cancel(appointment=appointment, by_client=True, override_reason="because")
        appointment_cancel(appointment=appointment, by_client=True, override_reason="illness")
        saved = Appointment.objects.get(pk=appointment.pk)
        assert (saved.status, saved.override_reason) == (Status.CANCELLED_BY_CLIENT, "illness")


@pytest.mark.django_db
def test_rescheduling_onto_a_taken_time_is_refused_and_changes_nothing(clinic_a):
    setup = schedule(clinic_a)
    a = book(setup, T0)
    book(setup, T0 + dt.timedelta(hours=1))
    with clinic_context(clinic_a), pytest.raises(SlotTaken):
        appointment_reschedule(clinic=clinic_a, appointment=a, start=T0 + dt.timedelta(minutes=50))
    with clinic_context(clinic_a):
        assert Appointment.objects.get(pk=a.pk).start == T0


@pytest.mark.django_db(transaction=True)
def test_racing_bookings_of_the_same_time_let_exactly_one_through(clinic_a):
    setup = schedule(clinic_a)
    workers = 32 if connection.vendor == "postgresql" else 8
    # Overlapping starts, not identical ones.
    won, refused, errors = race(workers, lambda i: book(setup, T0 + dt.timedelta(minutes=i % 3)))
    assert errors == []
    assert (won, refused) == (1, workers - 1)
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(status__in=BLOCKING).count() == 1


@pytest.mark.django_db
def test_postgres_refuses_an_overlap_that_skips_the_application(clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    from django.db import IntegrityError, transaction

    setup = schedule(clinic_a)
    first = book(setup, T0)
    with clinic_context(clinic_a), pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            clinic=clinic_a,
            service=setup.service,
            staff=setup.staff,
            start=first.start + dt.timedelta(minutes=5),
            end=first.end + dt.timedelta(minutes=5),
            block_start=first.start + dt.timedelta(minutes=5),
            block_end=first.end + dt.timedelta(minutes=5),
        )


def _overlaps_by_query(clinic) -> int:
    from django.db.models import Exists, F, OuterRef

    with clinic_context(clinic):
        live = Appointment.objects.filter(status__in=BLOCKING)
        clash = live.filter(
            staff=OuterRef("staff"),
            block_start__lt=OuterRef("block_end"),
            block_end__gt=OuterRef("block_start"),
        ).exclude(pk=OuterRef("pk"))
        return live.filter(Exists(clash)).annotate(s=F("staff")).count()


@pytest.mark.django_db
def test_a_random_soak_of_bookings_moves_and_cancellations_never_overlaps(clinic_a):
    import random

    rng = random.Random(4)
    setup = schedule(clinic_a)
    booked: list[Appointment] = []
    for _ in range(300):
        action = rng.random()
        start = T0 + dt.timedelta(minutes=5 * rng.randrange(0, 200))
        staff = rng.choice([setup.staff, setup.other_staff])
        try:
            if action < 0.6 or not booked:
                booked.append(book(setup, start, staff=staff))
            elif action < 0.85:
                with clinic_context(clinic_a):
                    appointment_reschedule(
                        clinic=clinic_a, appointment=rng.choice(booked), start=start
                    )
            else:
                with clinic_context(clinic_a):
                    appointment_cancel(appointment=rng.choice(booked), by_client=False)
        except (SlotTaken, Conflict):
            pass
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(status__in=BLOCKING).count() > 20
    assert _overlaps_by_query(clinic_a) == 0


def _room_overlaps_by_query(clinic) -> int:
    from django.db.models import Exists, OuterRef

    with clinic_context(clinic):
        # Single rooms by their capacity, not by the flag under test.
        live = Appointment.objects.filter(status__in=BLOCKING, room__capacity=1)
        clash = live.filter(
            room=OuterRef("room"),
            block_start__lt=OuterRef("block_end"),
            block_end__gt=OuterRef("block_start"),
        ).exclude(overlap_key=OuterRef("overlap_key"))
        return live.filter(Exists(clash)).count()


def _shared_room_overfull_moments(clinic, room) -> int:
    """Moments (each booking's start) when more bookings than places use a shared room."""
    with clinic_context(clinic):
        rows = list(
            Appointment.objects.filter(status__in=BLOCKING, room=room).values_list(
                "block_start", "block_end", "overlap_key"
            )
        )
    over = 0
    for moment, _end, _key in rows:
        keys = {k for a, b, k in rows if a <= moment < b}
        over += len(keys) > room.capacity
    return over


@pytest.mark.django_db
def test_a_random_soak_with_a_shared_treatment_room_never_overlaps_per_room(clinic_a):
    import random

    rng = random.Random(9)
    setup = schedule(clinic_a, with_room=True)
    booked: list[Appointment] = []
    for _ in range(200):
        start = T0 + dt.timedelta(minutes=5 * rng.randrange(0, 150))
        try:
            if rng.random() < 0.7 or not booked:
                booked.append(
                    book(setup, start, staff=rng.choice([setup.staff, setup.other_staff]))
                )
            else:
                with clinic_context(clinic_a):
                    appointment_reschedule(
                        clinic=clinic_a, appointment=rng.choice(booked), start=start
                    )
        except (SlotTaken, Conflict):
            pass
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(status__in=BLOCKING).count() > 10
    assert _room_overlaps_by_query(clinic_a) == 0
    assert _overlaps_by_query(clinic_a) == 0


@pytest.mark.django_db(transaction=True)
def test_two_staff_racing_for_the_only_room_let_exactly_one_through(clinic_a):
    setup = schedule(clinic_a, with_room=True)
    staff = [setup.staff, setup.other_staff]
    won, refused, errors = race(2, lambda i: book(setup, T0, staff=staff[i]))
    assert errors == []
    assert (won, refused) == (1, 1)
    assert _room_overlaps_by_query(clinic_a) == 0


@pytest.mark.django_db
def test_the_overlap_queries_do_find_overlaps(clinic_a):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the overlapping rows these queries would find")
    setup = schedule(clinic_a, with_room=True)
    first = book(setup, T0)
    with clinic_context(clinic_a):
        Appointment.objects.create(
            clinic=clinic_a,
            service=setup.service,
            staff=setup.staff,
            room=setup.room,
            room_exclusive=True,
            start=first.start,
            end=first.end,
            block_start=first.block_start,
            block_end=first.block_end,
        )
    assert _overlaps_by_query(clinic_a) == 2
    assert _room_overlaps_by_query(clinic_a) == 2


@pytest.mark.django_db
def test_a_soak_with_single_and_shared_rooms_moves_and_cancellations_stays_within_them(
    clinic_a,
):
    import random

    from bookwell.scheduling.models import Room, StaffMember

    rng = random.Random(21)
    setup = schedule(clinic_a, with_room=True)
    with clinic_context(clinic_a):
        shared = Room.objects.create(
            clinic=clinic_a, location=setup.location, name="Gym", capacity=2
        )
        setup.service.rooms.add(shared, through_defaults={"clinic": clinic_a})
        third = StaffMember.objects.create(clinic=clinic_a, display_name="Dr. Three")
        setup.service.staff.add(third, through_defaults={"clinic": clinic_a})
    team = [setup.staff, setup.other_staff, third]
    booked: list[Appointment] = []
    for _ in range(400):
        action = rng.random()
        start = T0 + dt.timedelta(minutes=5 * rng.randrange(0, 120))
        try:
            if action < 0.55 or not booked:
                booked.append(book(setup, start, staff=rng.choice(team)))
            elif action < 0.8:
                with clinic_context(clinic_a):
                    appointment_reschedule(
                        clinic=clinic_a, appointment=rng.choice(booked), start=start
                    )
            else:
                with clinic_context(clinic_a):
                    appointment_cancel(appointment=rng.choice(booked), by_client=False)
        except (SlotTaken, Conflict):
            pass
    with clinic_context(clinic_a):
        live = Appointment.objects.filter(status__in=BLOCKING)
        assert live.filter(room=shared).count() > 5  # the shared room was really used
        assert live.filter(room=setup.room).count() > 5
        assert Appointment.objects.exclude(status__in=BLOCKING).count() > 5
    assert _overlaps_by_query(clinic_a) == 0
    assert _room_overlaps_by_query(clinic_a) == 0
    assert _shared_room_overfull_moments(clinic_a, shared) == 0
