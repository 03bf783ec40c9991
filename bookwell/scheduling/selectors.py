"""Reads for scheduling: what the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.utils import timezone

from bookwell.bookings.models import BLOCKING, LONGEST_BLOCK, Appointment
from bookwell.core.context import NoActiveClinic, active_clinic_id, in_platform_scope
from bookwell.core.db.statements import Columns, Rider, fetch_batch, placeholders
from bookwell.core.metrics import timed_availability
from bookwell.scheduling.availability import ServiceRules, Slot, StaffSchedule, available_slots
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    Service,
    ServiceRoom,
    ServiceStaff,
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


@dataclass(frozen=True)
class _Read:
    sql: str  # "{staff}" / "{rooms}" stand for IN lists, filled in per call
    columns: Columns


@functools.cache
def _reads(alias: str) -> dict[str, _Read]:
    """The availability engine's reads as plain statements, built once per process.

    They run for every public availability page and every booking that availability must
    offer; compiling them as querysets cost several times their round trips on a 2-core
    machine (bench/api_load.py, bench/http_load.py). Each filters on the clinic explicitly,
    as the scoped managers do (SQLite has no row policies); identifiers come from the models
    and are quoted, values are bound parameters."""
    connection = connections[alias]
    q = connection.ops.quote_name

    def table(model: Any) -> str:
        return q(model._meta.db_table)

    def col(alias_: str, name: str) -> str:
        return f"{alias_}.{q(name)}"

    staff = Columns(connection, ("s", StaffMember, "id"))
    hours = Columns(
        connection,
        ("w", WorkingHours, "staff_id"),
        ("w", WorkingHours, "location_id"),
        ("l", Location, "time_zone"),
        ("w", WorkingHours, "weekday"),
        ("w", WorkingHours, "start_min"),
        ("w", WorkingHours, "end_min"),
    )
    overrides = Columns(
        connection,
        ("o", DateOverride, "staff_id"),
        ("o", DateOverride, "location_id"),
        ("l", Location, "time_zone"),
        ("o", DateOverride, "date"),
        ("o", DateOverride, "intervals"),
    )
    closures = Columns(
        connection, ("x", ClinicClosure, "first_day"), ("x", ClinicClosure, "last_day")
    )
    time_off = Columns(
        connection, ("t", TimeOff, "staff_id"), ("t", TimeOff, "start"), ("t", TimeOff, "end")
    )
    rooms = Columns(
        connection, ("r", Room, "id"), ("r", Room, "location_id"), ("r", Room, "capacity")
    )
    appointments = Columns(
        connection,
        *(
            ("a", Appointment, name)
            for name in (
                "staff_id",
                "room_id",
                "block_start",
                "block_end",
                "service_id",
                "group_seat",
                "start",
                "overlap_key",
            )
        ),
    )
    # The statuses that hold time are constants of the code, written into the statement.
    assert all(str(status.value).isidentifier() for status in BLOCKING)
    blocking = ", ".join(f"'{status.value}'" for status in BLOCKING)
    # The bookings that overlap a window start inside it or less than LONGEST_BLOCK before it:
    # both bounds on the start, so the index on (clinic, staff or room, block_start,
    # block_end) reads that stretch only, not every earlier booking, and checks each end
    # itself: only the bookings that reach the window are fetched from the table (PostgreSQL
    # cannot use a range overlap on an index under row-level security: the operator is not
    # leakproof).
    # A time held for a client paying online is free again once its hold ends (issue 10).
    window = (
        f"{col('a', 'status')} IN ({blocking}) AND {col('a', 'block_start')} < %s "
        f"AND {col('a', 'block_end')} > %s AND {col('a', 'block_start')} > %s "
        f"AND ({col('a', 'hold_until')} IS NULL OR {col('a', 'hold_until')} > %s)"
    )
    # The staff members asked about, as a subquery the other reads share ({only} narrows it
    # to the ids asked for): no read waits for another's answer, so on PostgreSQL all seven
    # go in one round trip, prepared (`_fetch_all`).
    staff_ids = (
        f"SELECT {col('s', 'id')} FROM {table(StaffMember)} s "  # noqa: S608
        f"JOIN {table(ServiceStaff)} j ON {col('j', 'staff_id')} = {col('s', 'id')} "
        f"WHERE {col('s', 'clinic_id')} = %s AND {col('j', 'clinic_id')} = %s "
        f"AND {col('j', 'service_id')} = %s AND {col('s', 'bookable')} = %s "
        f"AND {col('s', 'archived')} = %s{{only}}"
    )
    return {
        # The staff members asked about, locked until the transaction ends (a booking's
        # serialization point; bookings.services._lock_staff), read ahead of the others in
        # the same round trip: PostgreSQL runs them in order, so they see every booking
        # committed before the lock was granted.
        "lock": _Read(
            f"SELECT {col('s', 'id')} FROM {table(StaffMember)} s "  # noqa: S608
            f"WHERE {col('s', 'clinic_id')} = %s{{only}} ORDER BY {col('s', 'id')} "
            # NO KEY: excludes other bookings, but not the foreign-key checks other
            # transactions make at commit (FOR UPDATE would deadlock with those).
            "FOR NO KEY UPDATE",
            Columns(connection, ("s", StaffMember, "id")),
        ),
        "staff": _Read(f"{staff_ids} ORDER BY {col('s', 'id')}", staff),
        "hours": _Read(
            f"SELECT {hours.sql} FROM {table(WorkingHours)} w "  # noqa: S608
            f"JOIN {table(Location)} l ON {col('l', 'id')} = {col('w', 'location_id')} "
            f"WHERE {col('w', 'clinic_id')} = %s AND {col('w', 'staff_id')} IN ({staff_ids})",
            hours,
        ),
        "overrides": _Read(
            f"SELECT {overrides.sql} FROM {table(DateOverride)} o "  # noqa: S608
            f"JOIN {table(Location)} l ON {col('l', 'id')} = {col('o', 'location_id')} "
            f"WHERE {col('o', 'clinic_id')} = %s AND {col('o', 'staff_id')} IN ({staff_ids}) "
            f"AND {col('o', 'date')} >= %s AND {col('o', 'date')} <= %s",
            overrides,
        ),
        "closures": _Read(
            f"SELECT {closures.sql} FROM {table(ClinicClosure)} x "  # noqa: S608
            f"WHERE {col('x', 'clinic_id')} = %s AND {col('x', 'first_day')} <= %s "
            f"AND {col('x', 'last_day')} >= %s",
            closures,
        ),
        "time_off": _Read(
            f"SELECT {time_off.sql} FROM {table(TimeOff)} t "  # noqa: S608
            f"WHERE {col('t', 'clinic_id')} = %s AND {col('t', 'staff_id')} IN ({staff_ids}) "
            f"AND {col('t', 'start')} < %s AND {col('t', 'end')} > %s",
            time_off,
        ),
        "rooms": _Read(
            f"SELECT {rooms.sql} FROM {table(Room)} r "  # noqa: S608
            f"JOIN {table(ServiceRoom)} j ON {col('j', 'room_id')} = {col('r', 'id')} "
            f"WHERE {col('r', 'clinic_id')} = %s AND {col('j', 'clinic_id')} = %s "
            f"AND {col('j', 'service_id')} = %s AND {col('r', 'archived')} = %s",
            rooms,
        ),
        # The staff members' bookings, then the other bookings in the service's rooms: two
        # index-friendly halves (an OR of the two would scan the whole clinic), the second
        # led by the service's rooms (usually none).
        "appointments": _Read(
            f"SELECT {appointments.sql} FROM {table(Appointment)} a "  # noqa: S608
            f"WHERE {col('a', 'clinic_id')} = %s AND {col('a', 'staff_id')} IN ({staff_ids}) "
            f"AND {window}{{not_one}} "
            f"UNION ALL "
            f"SELECT {appointments.sql} FROM {table(ServiceRoom)} j "
            f"JOIN {table(Room)} r ON {col('r', 'id')} = {col('j', 'room_id')} "
            f"JOIN {table(Appointment)} a ON {col('a', 'room_id')} = {col('r', 'id')} "
            f"WHERE {col('r', 'clinic_id')} = %s AND {col('j', 'clinic_id')} = %s "
            f"AND {col('j', 'service_id')} = %s AND {col('r', 'archived')} = %s "
            f"AND {col('a', 'clinic_id')} = %s AND {col('a', 'staff_id')} NOT IN ({staff_ids}) "
            f"AND {window}{{not_one}}",
            appointments,
        ),
    }


def _scoped_clinic_id(clinic: Clinic) -> int:
    """The clinic these reads filter on, failing closed like the scoped managers: outside a
    platform scope, only the active clinic's rows."""
    if not in_platform_scope() and active_clinic_id() != clinic.pk:
        raise NoActiveClinic("availability read outside its clinic's context")
    return int(clinic.pk)


def _fetch_all(
    alias: str,
    batch: list[tuple[str, list[Any]]],
    riders: Sequence[Rider] = (),
    **parts: str,
) -> dict[str, list[list[Any]]]:
    """Runs the named reads (with their parameters), after the riders: on PostgreSQL as
    prepared statements in one round trip, one after another elsewhere."""
    reads = _reads(alias)
    statements = [(name, reads[name].sql.format(**parts), params) for name, params in batch]
    found = fetch_batch(
        alias,
        [*((r.sql, r.params) for r in riders), *((sql, params) for _, sql, params in statements)],
    )
    for rider, rows in zip(riders, found, strict=False):
        rider.rows, rider.done = rows, True
    found = found[len(riders) :]
    out: dict[str, list[list[Any]]] = {}
    for (name, _, _), rows in zip(statements, found, strict=True):
        out[name] = reads[name].columns.rows(rows)
    return out


@timed_availability
def availability(
    *,
    clinic: Clinic,
    service: Service,
    first: dt.date,
    last: dt.date,
    staff_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
    exclude_appointment: Appointment | None = None,
    at: int | None = None,
    lock_staff: bool = False,
    riders: Sequence[Rider] = (),
) -> list[Slot]:
    """Bookable starts of a service from `first` to `last` (local dates, inclusive); with
    `at` (a UNIX time), only whether that start is bookable (and with whom, in which rooms).

    Seven reads whatever the range or the number of staff (staff, hours, overrides,
    closures, time off, rooms, appointments), in one round trip on PostgreSQL. With
    `lock_staff` (and `staff_ids`), the staff rows are locked first, in that round trip
    (inside a transaction; SQLite's write transaction excludes other writers already).
    `riders` (reads of the caller's) go first in the same round trip.
    """
    now = now or timezone.now()
    alias = router.db_for_read(Appointment)
    ops = connections[alias].ops
    clinic_id = _scoped_clinic_id(clinic)
    staff_params: list[Any] = [clinic_id, clinic_id, service.pk, True, False]
    only = ""
    if staff_ids is not None:
        wanted = [int(pk) for pk in staff_ids]
        if not wanted:
            return []
        only = f" AND s.{ops.quote_name('id')} IN ({placeholders(len(wanted))})"
        staff_params += wanted
    lo = dt.datetime.combine(first, dt.time(), dt.UTC) - MARGIN
    hi = dt.datetime.combine(last, dt.time(), dt.UTC) + MARGIN
    busy_lo, busy_hi = lo, hi
    if at is not None:
        # One start: only what overlaps its block can rule it out (bookings and time off
        # block starts whose block [at - before, at + after) meets theirs).
        busy_lo = dt.datetime.fromtimestamp(at - service.buffer_before_min * 60, dt.UTC)
        busy_hi = dt.datetime.fromtimestamp(
            at + (service.duration_min + service.buffer_after_min) * 60, dt.UTC
        )
    busy_lo_db = ops.adapt_datetimefield_value(busy_lo)
    busy_hi_db = ops.adapt_datetimefield_value(busy_hi)
    first_db, last_db = ops.adapt_datefield_value(first), ops.adapt_datefield_value(last)
    room_params: list[Any] = [clinic_id, clinic_id, service.pk, False]
    not_one = ""
    window: list[Any] = [
        busy_hi_db,
        busy_lo_db,
        ops.adapt_datetimefield_value(busy_lo - LONGEST_BLOCK),
        ops.adapt_datetimefield_value(timezone.now()),
    ]
    if exclude_appointment is not None:  # its own time is free when moving it
        not_one = f" AND a.{ops.quote_name('id')} <> %s"
        window.append(
            Appointment._meta.pk.get_db_prep_value(exclude_appointment.pk, connections[alias])
        )
    appointment_params = [
        *(clinic_id, *staff_params, *window),
        *(*room_params, clinic_id, *staff_params, *window),
    ]
    lock: list[tuple[str, list[Any]]] = []
    if lock_staff:
        if staff_ids is None:
            raise ValueError("lock_staff needs the staff ids")
        if connections[alias].features.has_select_for_update:
            lock = [("lock", [clinic_id, *staff_params[5:]])]
    read = _fetch_all(
        alias,
        [
            *lock,
            ("staff", staff_params),
            ("hours", [clinic_id, *staff_params]),
            ("overrides", [clinic_id, *staff_params, first_db, last_db]),
            ("closures", [clinic_id, last_db, first_db]),
            ("time_off", [clinic_id, *staff_params, busy_hi_db, busy_lo_db]),
            ("rooms", room_params),
            ("appointments", appointment_params),
        ],
        riders,
        only=only,
        not_one=not_one,
    )
    staff = [row[0] for row in read["staff"]]
    if not staff:
        return []

    # One schedule per staff member and location: each location has its own wall clock, and
    # a date override replaces that location's hours only.
    Place = tuple[int, int, str]  # staff, location, time zone
    weekly: dict[Place, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for staff_id, location_id, tz, weekday, start_min, end_min in read["hours"]:
        weekly[(staff_id, location_id, tz)][weekday].append((start_min, end_min))
    overrides: dict[Place, dict[dt.date, list[tuple[int, int]]]] = defaultdict(dict)
    for staff_id, location_id, tz, day, intervals in read["overrides"]:
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
    for a, b in read["closures"]:
        day = max(a, first)
        while day <= min(b, last):
            closed.add(day)
            day += dt.timedelta(days=1)
    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for staff_id, start, end in read["time_off"]:
        busy[staff_id].append((_ts(start), _ts(end)))
    room_busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    # Seats already taken in this service's classes: (staff, class start) -> (seats, block).
    classes: dict[tuple[int, int], list[int]] = {}
    rooms_by_location: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for room_id, location_id, capacity in read["rooms"]:
        rooms_by_location[location_id].append((room_id, capacity))
    rows = read["appointments"]
    # A class uses its room once, however many seats it has (one interval per overlap key);
    # a new seat of one of this service's classes joins the room that class is in.
    room_keys: set[tuple[int, str]] = set()
    class_rooms: dict[tuple[int, int], set[int]] = defaultdict(set)  # (staff, start) -> rooms
    for staff_id, room_id, start, end, service_id, seat, begins, key in rows:
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
        found = available_slots(schedules, rules, now=_ts(now), first=first, last=last, at=at)
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
