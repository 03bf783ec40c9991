"""Availability from the database: a fixed number of queries, the same rules as the engine."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bookwell.bookings.models import LONGEST_BLOCK, Source
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import (
    MAX_BUFFER_MIN,
    MAX_DURATION_MIN,
    ClinicClosure,
    DateOverride,
    Service,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.scheduling.selectors import availability
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2031, 6, 2)
NOW = dt.datetime(2031, 6, 1, 8, 0, tzinfo=dt.UTC)


def hours(setup, staff, weekday=0, start="09:00", end="12:00"):
    h, m = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    WorkingHours.objects.create(
        clinic=setup.clinic,
        staff=staff,
        location=setup.location,
        weekday=weekday,
        start_min=h * 60 + m,
        end_min=h2 * 60 + m2,
    )


def local(day: dt.date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}"


def starts(setup, first=MONDAY, last=MONDAY, **kw):
    import zoneinfo

    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    slots = availability(
        clinic=setup.clinic, service=setup.service, first=first, last=last, now=NOW, **kw
    )
    return [
        (dt.datetime.fromtimestamp(s.start, zone).strftime("%H:%M"), [int(i) for i in s.staff])
        for s in slots
    ]


def test_hours_appointments_time_off_overrides_and_closures_all_count(clinic_a):
    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        hours(setup, setup.other_staff, start="10:00", end="12:00")
        assert starts(setup) == [
            ("09:00", [setup.staff.pk]),
            ("10:00", [setup.staff.pk, setup.other_staff.pk]),
            ("11:00", [setup.staff.pk, setup.other_staff.pk]),
        ]

        booked_at = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)  # 10:00 in Berlin (summer)
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=booked_at),
        )
        TimeOff.objects.create(
            clinic=clinic_a,
            staff=setup.other_staff,
            start=booked_at + dt.timedelta(hours=1),
            end=booked_at + dt.timedelta(hours=2),
            category="sick",
        )
        assert starts(setup) == [
            ("09:00", [setup.staff.pk]),
            ("10:00", [setup.other_staff.pk]),
            ("11:00", [setup.staff.pk]),
        ]

        DateOverride.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            location=setup.location,
            date=MONDAY,
            intervals=[[13 * 60, 14 * 60]],
        )
        assert starts(setup) == [("10:00", [setup.other_staff.pk]), ("13:00", [setup.staff.pk])]

        ClinicClosure.objects.create(
            clinic=clinic_a, first_day=MONDAY, last_day=MONDAY, label="Holiday"
        )
        assert starts(setup) == []


def test_a_service_that_needs_a_room_is_offered_only_when_a_room_is_free(clinic_a):
    setup = schedule(
        clinic_a, with_room=True, duration_min=60, buffer_after_min=0, slot_interval_min=60
    )
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        hours(setup, setup.other_staff)
        nine = dt.datetime(2031, 6, 2, 7, 0, tzinfo=dt.UTC)
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=nine),
        )
        # The other practitioner is free at nine, but the only room is not.
        assert [s for s, _ in starts(setup)] == ["10:00", "11:00"]


def test_loading_takes_the_same_queries_for_any_range_and_team(clinic_a):
    from bookwell.scheduling.models import ClinicClosure, DateOverride, TimeOff

    setup = schedule(clinic_a, with_room=True)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)

        def count(last):
            with CaptureQueriesContext(connection) as ctx:
                availability(
                    clinic=clinic_a, service=setup.service, first=MONDAY, last=last, now=NOW
                )
            return len(ctx.captured_queries)

        small = count(MONDAY)
        # Many rows of every kind the loader reads, for many staff and a long range.
        for i in range(8):
            extra = StaffMember.objects.create(clinic=clinic_a, display_name=f"Extra {i}")
            setup.service.staff.add(extra, through_defaults={"clinic": clinic_a})
            for weekday in range(5):
                hours(setup, extra, weekday=weekday)
            for week in range(6):
                day = MONDAY + dt.timedelta(days=7 * week + 1)
                start = dt.datetime.combine(day, dt.time(6), dt.UTC) + dt.timedelta(hours=i)
                appointment_book(
                    clinic=clinic_a,
                    request=BookingRequest(service=setup.service, staff=extra, start=start),
                )
                TimeOff.objects.create(
                    clinic=clinic_a,
                    staff=extra,
                    start=start + dt.timedelta(days=1),
                    end=start + dt.timedelta(days=1, hours=2),
                    category="training",
                )
            DateOverride.objects.create(
                clinic=clinic_a,
                staff=extra,
                location=setup.location,
                date=MONDAY + dt.timedelta(days=30 + i),
                intervals=[[600, 720]],
            )
        ClinicClosure.objects.create(
            clinic=clinic_a,
            first_day=MONDAY + dt.timedelta(days=20),
            last_day=MONDAY + dt.timedelta(days=21),
        )
        large = count(MONDAY + dt.timedelta(days=60))
        # Staff, hours, overrides, closures, time off, rooms, bookings: sent together in one
        # round trip on PostgreSQL.
        assert large == small == (1 if connection.vendor == "postgresql" else 7)


def test_online_bookings_only_take_offered_times_staff_may_book_outside_hours(clinic_a, clock):
    setup = schedule(
        clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60, min_notice_min=0
    )
    clock.move_to(NOW)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        evening = dt.datetime(2031, 6, 2, 17, 0, tzinfo=dt.UTC)
        with pytest.raises(SlotTaken):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service, staff=setup.staff, start=evening, source=Source.ONLINE
                ),
            )
        offered = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)
        assert appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=offered, source=Source.ONLINE
            ),
        )
        assert appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=evening),
        )


def test_no_preference_goes_to_the_least_booked_that_day(clinic_a, clock):
    from bookwell.bookings.services import appointment_book_any_staff

    setup = schedule(
        clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60, min_notice_min=0
    )
    clock.move_to(NOW)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        hours(setup, setup.other_staff)
        at = dt.datetime(2031, 6, 2, 7, 0, tzinfo=dt.UTC)  # 09:00 Berlin
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=at),
        )
        later = at + dt.timedelta(hours=2)
        chosen = appointment_book_any_staff(clinic=clinic_a, service=setup.service, start=later)
        assert chosen.staff == setup.other_staff  # one booked already today
        third = appointment_book_any_staff(clinic=clinic_a, service=setup.service, start=later)
        assert third.staff == setup.staff  # the other is taken now
        with pytest.raises(SlotTaken):
            appointment_book_any_staff(clinic=clinic_a, service=setup.service, start=later)


def test_no_preference_round_robin_takes_turns(clinic_a, clock):
    from bookwell.bookings.services import appointment_book_any_staff

    setup = schedule(
        clinic_a,
        duration_min=60,
        buffer_after_min=0,
        slot_interval_min=60,
        min_notice_min=0,
        assignment_policy="round_robin",
    )
    clock.move_to(NOW)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        hours(setup, setup.other_staff)
        base = dt.datetime(2031, 6, 2, 7, 0, tzinfo=dt.UTC)
        given = []
        for k in range(3):
            clock.shift(dt.timedelta(minutes=1))
            given.append(
                appointment_book_any_staff(
                    clinic=clinic_a, service=setup.service, start=base + dt.timedelta(hours=k)
                ).staff
            )
        assert given == [setup.staff, setup.other_staff, setup.staff]


def test_each_location_keeps_its_own_clock_and_an_override_says_where_they_work(clinic_a):
    from bookwell.scheduling.models import Location

    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60)
    with clinic_context(clinic_a):
        ny = Location.objects.create(clinic=clinic_a, name="NY", time_zone="America/New_York")
        hours(setup, setup.staff, start="09:00", end="10:00")  # Berlin: 07:00Z
        WorkingHours.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            location=ny,
            weekday=0,
            start_min=9 * 60,
            end_min=10 * 60,
        )  # New York: 13:00Z
        DateOverride.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            location=setup.location,
            date=MONDAY,
            intervals=[[11 * 60, 12 * 60]],
        )
        slots = availability(
            clinic=clinic_a, service=setup.service, first=MONDAY, last=MONDAY, now=NOW
        )
        usual = availability(
            clinic=clinic_a,
            service=setup.service,
            first=MONDAY + dt.timedelta(days=7),
            last=MONDAY + dt.timedelta(days=7),
            now=NOW,
        )
    utc = [dt.datetime.fromtimestamp(s.start, dt.UTC).strftime("%H:%M") for s in slots]
    # That Monday they work in Berlin only, 11:00 local; the override replaces New York too.
    assert utc == ["09:00"]
    # The Monday after, each location keeps its own clock: 09:00 Berlin and 09:00 New York.
    assert [dt.datetime.fromtimestamp(s.start, dt.UTC).strftime("%H:%M") for s in usual] == [
        "07:00",
        "13:00",
    ]


def test_a_day_with_only_an_override_is_offered(clinic_a):
    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60)
    with clinic_context(clinic_a):
        DateOverride.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            location=setup.location,
            date=MONDAY,
            intervals=[[10 * 60, 11 * 60]],
        )
        assert starts(setup) == [("10:00", [setup.staff.pk])]


def test_slots_name_the_free_rooms_at_their_location_and_online_bookings_use_them(clinic_a, clock):
    from bookwell.scheduling.models import Location, Room

    setup = schedule(
        clinic_a,
        with_room=True,
        duration_min=60,
        buffer_after_min=0,
        slot_interval_min=60,
        min_notice_min=0,
    )
    clock.move_to(NOW)
    with clinic_context(clinic_a):
        elsewhere = Location.objects.create(
            clinic=clinic_a, name="Other", time_zone="Europe/Berlin"
        )
        far_room = Room.objects.create(clinic=clinic_a, location=elsewhere, name="Far")
        setup.service.rooms.add(far_room, through_defaults={"clinic": clinic_a})
        hours(setup, setup.staff)  # works at the main location only
        slots = availability(
            clinic=clinic_a, service=setup.service, first=MONDAY, last=MONDAY, now=NOW
        )
        assert slots and all(s.rooms == (setup.room.pk,) for s in slots)
        online = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime.fromtimestamp(slots[0].start, dt.UTC),
                source=Source.ONLINE,
            ),
        )
        assert online.room == setup.room
        # The main room is now taken at that time: not offered, although the far room is free.
        assert slots[0].start not in [
            s.start
            for s in availability(
                clinic=clinic_a, service=setup.service, first=MONDAY, last=MONDAY, now=NOW
            )
        ]


def test_staff_bookings_take_a_room_where_the_staff_member_works_that_day(clinic_a):
    from bookwell.scheduling.models import Location, Room

    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        elsewhere = Location.objects.create(
            clinic=clinic_a, name="Other", time_zone="Europe/Berlin"
        )
        far_room = Room.objects.create(clinic=clinic_a, location=elsewhere, name="A far room")
        near_room = Room.objects.create(clinic=clinic_a, location=setup.location, name="Near")
        # The far room comes first by id: the choice must follow the location, not the order.
        setup.service.rooms.set([far_room, near_room], through_defaults={"clinic": clinic_a})
        hours(setup, setup.staff)  # Mondays at the main location
        booked = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 6, 2, 7, 0, tzinfo=dt.UTC),
            ),
        )
        assert booked.room == near_room


def test_another_clinics_rows_never_count_and_its_context_is_refused(clinic_a, clinic_b):
    """The engine's reads are hand-written statements: each filters on the clinic itself (on
    SQLite nothing else would), and they refuse to run for a clinic not in context."""
    from bookwell.core.context import NoActiveClinic

    setup = schedule(clinic_a, duration_min=60, buffer_after_min=0, slot_interval_min=60)
    other = schedule(clinic_b, duration_min=60, buffer_after_min=0, slot_interval_min=60)
    with clinic_context(clinic_a):
        hours(setup, setup.staff)
        before = starts(setup)
    assert before
    with clinic_context(clinic_b):  # the other clinic closes that day and books its rooms
        ClinicClosure.objects.create(clinic=clinic_b, first_day=MONDAY, last_day=MONDAY)
        hours(other, other.staff)
    with clinic_context(clinic_a):
        assert starts(setup) == before
    with clinic_context(clinic_b), pytest.raises(NoActiveClinic):
        starts(setup)  # clinic A's availability asked inside clinic B's context


def test_the_longest_booking_still_blocks_the_starts_it_overlaps(clinic_a, clock):
    """Availability reads a window of bookings by their start (an index range): a booking of
    the longest service allowed, started more than a day before, must still count."""
    setup = schedule(
        clinic_a, duration_min=30, buffer_after_min=0, slot_interval_min=30, min_notice_min=0
    )
    clock.move_to(NOW)
    with clinic_context(clinic_a):
        for weekday in range(7):
            hours(setup, setup.staff, weekday=weekday, start="00:00", end="23:59")
        longest = Service.objects.create(
            clinic=clinic_a,
            name="Retreat",
            duration_min=MAX_DURATION_MIN,
            buffer_before_min=MAX_BUFFER_MIN,
            buffer_after_min=MAX_BUFFER_MIN,
        )
        longest.staff.set([setup.staff], through_defaults={"clinic": clinic_a})
        # Monday 00:00 in Berlin: the block runs from Sunday 20:00 to Tuesday 04:00.
        monday = dt.datetime(2031, 6, 1, 22, 0, tzinfo=dt.UTC)
        booked = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=longest, staff=setup.staff, start=monday),
        )
        assert booked.block_end - booked.block_start == LONGEST_BLOCK
        tuesday = MONDAY + dt.timedelta(days=1)
        mine = [t for t, who in starts(setup, first=tuesday, last=tuesday) if setup.staff.pk in who]
        assert mine[0] == "04:00"

        def offered(at: dt.datetime) -> bool:  # the one-start read a booking makes
            found = availability(
                clinic=clinic_a,
                service=setup.service,
                first=MONDAY,
                last=tuesday + dt.timedelta(days=1),
                staff_ids=[setup.staff.pk],
                now=NOW,
                at=int(at.timestamp()),
            )
            return bool(found)

        assert not offered(dt.datetime(2031, 6, 3, 1, 30, tzinfo=dt.UTC))
        assert offered(dt.datetime(2031, 6, 3, 2, 0, tzinfo=dt.UTC))

        def online(at: dt.datetime) -> object:
            return appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service, staff=setup.staff, start=at, source=Source.ONLINE
                ),
            )

        with pytest.raises(SlotTaken):  # Tuesday 03:30, the last half hour of the block
            online(dt.datetime(2031, 6, 3, 1, 30, tzinfo=dt.UTC))
        assert online(dt.datetime(2031, 6, 3, 2, 0, tzinfo=dt.UTC))  # Tuesday 04:00


def test_the_database_refuses_a_service_longer_than_the_bound(clinic_a):
    with clinic_context(clinic_a), pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(clinic=clinic_a, name="Too long", duration_min=MAX_DURATION_MIN + 1)
    with clinic_context(clinic_a), pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(
            clinic=clinic_a, name="Too padded", duration_min=60, buffer_after_min=MAX_BUFFER_MIN + 1
        )


def test_the_one_start_check_counts_the_buffers_either_side(clinic_a):
    """A booking's own check reads only the bookings near its start: near enough must
    include what its buffers reach, before and after."""
    setup = schedule(
        clinic_a,
        duration_min=30,
        buffer_before_min=30,
        buffer_after_min=30,
        slot_interval_min=15,
        min_notice_min=0,
    )
    plain = schedule(clinic_a, duration_min=60, buffer_after_min=0)
    with clinic_context(clinic_a):
        plain.service.staff.set([setup.staff], through_defaults={"clinic": clinic_a})
        hours(setup, setup.staff, start="08:00", end="18:00")
        # Booked 09:00-10:00 and 12:00-13:00 Berlin (07:00 and 10:00 UTC), no buffers.
        for hour in (7, 10):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=plain.service,
                    staff=setup.staff,
                    start=dt.datetime(2031, 6, 2, hour, 0, tzinfo=dt.UTC),
                ),
            )

        def offered(hour: int, minute: int) -> bool:
            return bool(
                availability(
                    clinic=clinic_a,
                    service=setup.service,
                    first=MONDAY,
                    last=MONDAY,
                    staff_ids=[setup.staff.pk],
                    now=NOW,
                    at=int(dt.datetime(2031, 6, 2, hour, minute, tzinfo=dt.UTC).timestamp()),
                )
            )

        assert not offered(8, 15)  # 10:15: its buffer before reaches back into the 09:00 booking
        assert offered(8, 30)  # 10:30: from 10:00
        assert offered(9, 0)  # 11:00: until 12:00
        assert not offered(9, 15)  # 11:15: its buffer after reaches into the 12:00 booking
