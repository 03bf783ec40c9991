"""Reads for scheduling: what the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Q
from django.utils import timezone

from bookwell.bookings.models import BLOCKING, Appointment
from bookwell.scheduling.availability import ServiceRules, Slot, StaffSchedule, available_slots
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Room,
    Service,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.tenancy.models import Clinic

MARGIN = dt.timedelta(days=2)  # time zones reach up to ~a day either side of a local date


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def service_rules(service: Service) -> ServiceRules:
    return ServiceRules(
        duration_min=service.duration_min,
        slot_interval_min=service.slot_interval_min,
        buffer_before_min=service.buffer_before_min,
        buffer_after_min=service.buffer_after_min,
        min_notice_min=service.min_notice_min,
        max_advance_days=service.max_advance_days,
    )


def availability(
    *,
    clinic: Clinic,
    service: Service,
    first: dt.date,
    last: dt.date,
    staff_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
    exclude_appointment: Appointment | None = None,
) -> list[Slot]:
    """Bookable starts of a service from `first` to `last` (local dates, inclusive).

    Seven queries whatever the range or the number of staff: staff, hours, overrides,
    closures, time off, appointments, and (for services that need one) rooms.
    """
    now = now or timezone.now()
    staff_qs = StaffMember.objects.filter(services=service, bookable=True, archived=False).order_by(
        "pk"
    )
    if staff_ids is not None:
        staff_qs = staff_qs.filter(pk__in=list(staff_ids))
    staff = list(staff_qs.values_list("pk", flat=True))
    if not staff:
        return []
    lo = dt.datetime.combine(first, dt.time(), dt.UTC) - MARGIN
    hi = dt.datetime.combine(last, dt.time(), dt.UTC) + MARGIN

    # One schedule per staff member and location: each location has its own wall clock, and
    # a date override replaces that location's hours only.
    Place = tuple[int, int, str]  # staff, location, time zone
    weekly: dict[Place, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for staff_id, location_id, tz, weekday, start_min, end_min in WorkingHours.objects.filter(
        staff_id__in=staff
    ).values_list(
        "staff_id", "location_id", "location__time_zone", "weekday", "start_min", "end_min"
    ):
        weekly[(staff_id, location_id, tz)][weekday].append((start_min, end_min))
    overrides: dict[Place, dict[dt.date, list[tuple[int, int]]]] = defaultdict(dict)
    for staff_id, location_id, tz, day, intervals in DateOverride.objects.filter(
        staff_id__in=staff, date__gte=first, date__lte=last
    ).values_list("staff_id", "location_id", "location__time_zone", "date", "intervals"):
        overrides[(staff_id, location_id, tz)][day] = [
            (int(pair[0]), int(pair[1]))
            for pair in (intervals if isinstance(intervals, list) else [])
            if isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(x, int) for x in pair)
            and 0 <= pair[0] < pair[1] <= 1440
        ]
    # A date override replaces the staff member's hours that day at every location: it says
    # where they work that day (its intervals, at its location), or that they do not.
    overridden = {(place[0], day) for place, days in overrides.items() for day in days}
    for place in list(weekly):
        for staff_id, day in overridden:
            if place[0] == staff_id and day not in overrides[place]:
                overrides[place][day] = []
    closed: set[dt.date] = set()
    for a, b in ClinicClosure.objects.filter(first_day__lte=last, last_day__gte=first).values_list(
        "first_day", "last_day"
    ):
        day = max(a, first)
        while day <= min(b, last):
            closed.add(day)
            day += dt.timedelta(days=1)
    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for staff_id, start, end in TimeOff.objects.filter(
        staff_id__in=staff, start__lt=hi, end__gt=lo
    ).values_list("staff_id", "start", "end"):
        busy[staff_id].append((_ts(start), _ts(end)))
    room_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    # Seats already taken in this service's classes: (staff, class start) -> (seats, block).
    classes: dict[tuple[int, int], list[int]] = {}
    rooms_by_location: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for room_id, location_id, capacity in Room.objects.filter(
        services=service, archived=False
    ).values_list("pk", "location_id", "capacity"):
        rooms_by_location[location_id].append((room_id, capacity))
    service_rooms = [room_id for rooms in rooms_by_location.values() for room_id, _ in rooms]
    # Only what can matter: these staff members' time, and the rooms this service can use
    # (a busy day of the whole clinic is not read to check one person's hour).
    appointments = Appointment.objects.filter(
        Q(staff_id__in=staff) | Q(room_id__in=service_rooms),
        status__in=BLOCKING,
        block_start__lt=hi,
        block_end__gt=lo,
    )
    if exclude_appointment is not None:  # its own time is free when moving it
        appointments = appointments.exclude(pk=exclude_appointment.pk)
    # A class uses its room once, however many seats it has (one interval per overlap key);
    # a new seat of one of this service's classes joins the room that class is in.
    room_keys: set[tuple[int, str]] = set()
    class_rooms: dict[tuple[int, int], set[int]] = defaultdict(set)  # (staff, start) -> rooms
    for (
        staff_id,
        room_id,
        start,
        end,
        service_id,
        seat,
        begins,
        key,
    ) in appointments.values_list(
        "staff_id",
        "room_id",
        "block_start",
        "block_end",
        "service_id",
        "group_seat",
        "start",
        "overlap_key",
    ):
        if room_id is not None and (room_id, key) not in room_keys:
            room_keys.add((room_id, key))
            room_busy[room_id].append((_ts(start), _ts(end)))
        if seat and service_id == service.pk and service.capacity > 1:
            held = classes.setdefault((staff_id, _ts(begins)), [0, _ts(start), _ts(end)])
            held[0] += 1
            if room_id is not None:
                class_rooms[(staff_id, _ts(begins))].add(room_id)
            continue  # a class keeps its start open while seats remain (filtered below)
        if staff_id in staff:
            busy[staff_id].append((_ts(start), _ts(end)))

    rules = service_rules(service)
    needs_room = bool(rooms_by_location)
    occupancy = {
        room_id: (_Occupancy(room_busy.get(room_id, [])), capacity)
        for rooms in rooms_by_location.values()
        for room_id, capacity in rooms
    }
    before = rules.buffer_before_min * 60
    after = (rules.duration_min + rules.buffer_after_min) * 60

    # The engine runs once per location: a slot there needs a room there.
    merged: dict[int, tuple[set[str], set[int]]] = {}
    locations = sorted({place[1] for place in set(weekly) | set(overrides)})
    for location_id in locations:
        schedules = []
        for place in sorted(set(weekly) | set(overrides)):
            if place[1] != location_id:
                continue
            staff_id, _, tz = place
            place_overrides = dict(overrides.get(place, {}))
            for day in closed:
                place_overrides[day] = []
            schedules.append(
                StaffSchedule(
                    id=str(staff_id),
                    timezone=tz,
                    weekly=dict(weekly.get(place, {})),
                    overrides=place_overrides,
                    busy=busy.get(staff_id, []),
                )
            )
        found = available_slots(schedules, rules, now=_ts(now), first=first, last=last)
        if classes:
            found = _seat_filter(found, rules, service.capacity, classes)
        for slot in found:
            free_rooms: set[int] = set()
            if needs_room:
                here = rooms_by_location.get(location_id, [])
                free_rooms = {
                    room_id
                    for room_id, _ in here
                    if any(room_id in class_rooms.get((int(s), slot.start), ()) for s in slot.staff)
                    or occupancy[room_id][0].room_for_one_more(
                        slot.start - before, slot.start + after, occupancy[room_id][1]
                    )
                }
                if not free_rooms:
                    continue
            staff_set, room_set = merged.setdefault(slot.start, (set(), set()))
            staff_set.update(slot.staff)
            room_set.update(free_rooms)
    return [
        Slot(start, tuple(sorted(staff_set, key=int)), tuple(sorted(room_set)))
        for start, (staff_set, room_set) in sorted(merged.items())
    ]


class _Occupancy:
    """Busy intervals of one room; `overlaps` in O(log n)."""

    def __init__(self, intervals: list[tuple[int, int]]) -> None:
        intervals = sorted(intervals)
        self.starts = [a for a, _ in intervals]
        self.ends = [b for _, b in intervals]
        self.max_end: list[int] = []
        furthest = -(2**62)
        for _, b in intervals:
            furthest = max(furthest, b)
            self.max_end.append(furthest)

    def room_for_one_more(self, lo: int, hi: int, capacity: int) -> bool:
        if capacity == 1:
            return not self.overlaps(lo, hi)
        # Shared rooms: how many bookings overlap the window (a short scan; rooms hold few).
        i = bisect.bisect_left(self.starts, hi)
        inside = sum(1 for k in range(i) if self.ends[k] > lo)
        return inside < capacity

    def overlaps(self, lo: int, hi: int) -> bool:
        # Intervals starting before hi overlap [lo, hi) when any of them ends after lo.
        i = bisect.bisect_left(self.starts, hi)
        return i > 0 and self.max_end[i - 1] > lo


def _seat_filter(
    slots: list[Slot], rules: ServiceRules, capacity: int, classes: dict[tuple[int, int], list[int]]
) -> list[Slot]:
    """A staff member is free for a class start when that class has seats left and no other
    class of theirs overlaps it."""
    before = rules.buffer_before_min * 60
    after = (rules.duration_min + rules.buffer_after_min) * 60
    out = []
    for slot in slots:
        lo, hi = slot.start - before, slot.start + after
        free = []
        for staff_id in slot.staff:
            ok = True
            for (held_staff, class_start), (seats, block_lo, block_hi) in classes.items():
                if held_staff != int(staff_id):
                    continue
                if class_start == slot.start:
                    ok = ok and seats < capacity
                elif block_lo < hi and block_hi > lo:
                    ok = False
            if ok:
                free.append(staff_id)
        if free:
            out.append(Slot(slot.start, tuple(free)))
    return out
