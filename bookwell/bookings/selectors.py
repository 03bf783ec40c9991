"""Reads for the staff calendar: a fixed number of queries whatever the number of staff,
rooms or appointments (a test counts them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from bookwell.bookings.models import Appointment, Status, WaitlistEntry, WaitlistStatus
from bookwell.clients.models import Client
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.tenancy.fields import open_stored
from bookwell.tenancy.models import Clinic

SLOT_MIN = 15  # the grid's row: a quarter of an hour
DEFAULT_FIRST, DEFAULT_LAST = 8 * 60, 18 * 60  # shown when nobody works that day
PALETTE = 12  # service colours cycle through this many classes


@dataclass
class Block:
    """Something drawn in a column: grid row (1-based, from the view's first hour) and span."""

    row: int
    span: int


@dataclass(slots=True)
class Shown:
    """What the grid draws of one appointment. Plain values, not model instances: a busy day
    has a hundred appointments, and building five model objects for each was most of the
    calendar's time."""

    pk: uuid.UUID
    start: dt.datetime  # in the clinic's time zone
    end: dt.datetime
    status: str
    service_id: int
    staff_id: int
    room_id: int | None
    service: str
    staff: str
    room: str
    client: str | None  # None: booked without a client

    @property
    def status_label(self) -> str:
        return str(Status(self.status).label)


@dataclass
class Entry(Block):
    appointment: Shown
    colour: int = 0
    lane: int = 0  # overlapping seats of a class or double-booked rows side by side
    lanes: int = 1


@dataclass
class Column:
    key: str  # "staff-<id>" or "room-<id>" or a date
    title: str
    day: dt.date
    staff_id: int | None = None
    room_id: int | None = None
    entries: list[Entry] = field(default_factory=list)
    working: list[Block] = field(default_factory=list)
    away: list[Block] = field(default_factory=list)  # time off
    closed: bool = False


@dataclass
class Calendar:
    view: str  # "day" or "week"
    by: str  # "staff" or "room"
    days: list[dt.date]
    columns: list[Column]
    first_min: int  # minutes after midnight of the first row
    rows: int
    time_zone: str
    labels: list[tuple[int, str]]  # (row, "08:00") for each full hour


def _minute(moment: dt.datetime, zone: ZoneInfo, day: dt.date) -> int:
    """Minutes after the local midnight of `day` (clamped to the day)."""
    local = moment.astimezone(zone)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def calendar_load(
    *,
    clinic: Clinic,
    first: dt.date,
    days: int,
    by: str = "staff",
    location_id: int | None = None,
    staff_id: int | None = None,
    room_id: int | None = None,
) -> Calendar:
    """Columns (staff members or rooms for one day; or the days of a week for one staff
    member or room), their appointments, working hours, time off and closures."""
    zone = ZoneInfo(clinic.time_zone)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    lo = dt.datetime.combine(first, dt.time(), zone)
    hi = dt.datetime.combine(dates[-1] + dt.timedelta(days=1), dt.time(), zone)

    # A week shows one person's or one room's appointments; a day shows everyone's.
    week_staff = staff_id if days > 1 and by == "staff" else None
    week_room = room_id if days > 1 and by == "room" else None
    appointments = _shown(lo, hi, zone, staff_id=week_staff, room_id=week_room)

    staff_qs = StaffMember.objects.order_by("display_name", "pk")
    rooms_qs = Room.objects.select_related("location").order_by("location__name", "name", "pk")
    if location_id is not None:
        rooms_qs = rooms_qs.filter(location_id=location_id)
        staff_qs = staff_qs.filter(
            Q(hours__location_id=location_id) | Q(overrides__location_id=location_id)
        ).distinct()
    # Archived or no longer bookable people and rooms keep a column while they have
    # appointments in view: an appointment never silently drops off the calendar.
    if by == "room":
        booked_rooms = {a.room_id for a in appointments if a.room_id is not None}
        rooms = list(
            rooms_qs.filter(Q(archived=False) | Q(pk__in=booked_rooms))
            if room_id is None
            else rooms_qs.filter(pk=room_id)
        )
        staff = []
    else:
        booked_staff = {a.staff_id for a in appointments}
        staff = list(
            staff_qs.filter(Q(archived=False, bookable=True) | Q(pk__in=booked_staff))
            if staff_id is None
            else staff_qs.filter(pk=staff_id)
        )
        rooms = []
    shown_ids = {s.pk for s in staff} if by == "staff" else {r.pk for r in rooms}
    appointments = [
        a for a in appointments if (a.staff_id if by == "staff" else a.room_id) in shown_ids
    ]

    staff_ids = [s.pk for s in staff]
    hours: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for sid, weekday, a, b in WorkingHours.objects.filter(staff_id__in=staff_ids).values_list(
        "staff_id", "weekday", "start_min", "end_min"
    ):
        hours[(sid, weekday)].append((a, b))
    overrides: dict[tuple[int, dt.date], list[tuple[int, int]]] = {}
    for sid, day, intervals in DateOverride.objects.filter(
        staff_id__in=staff_ids, date__gte=first, date__lte=dates[-1]
    ).values_list("staff_id", "date", "intervals"):
        overrides[(sid, day)] = [
            (int(p[0]), int(p[1]))
            for p in (intervals or [])
            if isinstance(p, list | tuple) and len(p) == 2
        ]
    away: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for sid, a, b in TimeOff.objects.filter(
        staff_id__in=staff_ids, start__lt=hi, end__gt=lo
    ).values_list("staff_id", "start", "end"):
        away[sid].append((a, b))
    closed: set[dt.date] = set()
    for a, b in ClinicClosure.objects.filter(
        first_day__lte=dates[-1], last_day__gte=first
    ).values_list("first_day", "last_day"):
        day = max(a, first)
        while day <= min(b, dates[-1]):
            closed.add(day)
            day += dt.timedelta(days=1)

    def working(sid: int, day: dt.date) -> list[tuple[int, int]]:
        if day in closed:
            return []
        if (sid, day) in overrides:
            return overrides[(sid, day)]
        return sorted(hours.get((sid, day.weekday()), []))

    columns: list[Column] = []
    if days == 1:
        for s in staff:
            columns.append(Column(f"staff-{s.pk}", s.display_name, first, staff_id=s.pk))
        for r in rooms:
            title = r.name if location_id else f"{r.name} · {r.location.name}"
            columns.append(Column(f"room-{r.pk}", title, first, room_id=r.pk))
    else:
        only_staff = staff[0] if staff else None
        only_room = rooms[0] if rooms else None
        for day in dates:
            columns.append(
                Column(
                    day.isoformat(),
                    "",
                    day,
                    staff_id=only_staff.pk if only_staff else None,
                    room_id=only_room.pk if only_room else None,
                )
            )

    # The rows shown: from the earliest work or appointment to the latest, whole hours.
    spans: list[tuple[int, int]] = []
    for col in columns:
        if col.staff_id is not None:
            spans.extend(working(col.staff_id, col.day))
    for a in appointments:
        day = a.start.astimezone(zone).date()
        if first <= day <= dates[-1]:
            spans.append((_minute(a.start, zone, day), _minute(a.end, zone, day)))
    first_min = min([DEFAULT_FIRST, *(a for a, _ in spans)])
    last_min = max([DEFAULT_LAST, *(b for _, b in spans)])
    first_min, last_min = first_min // 60 * 60, min(24 * 60, -(-last_min // 60) * 60)
    rows = (last_min - first_min) // SLOT_MIN

    def block(a_min: int, b_min: int) -> Block | None:
        a_min, b_min = max(a_min, first_min), min(b_min, last_min)
        if b_min <= a_min:
            return None
        row = (a_min - first_min) // SLOT_MIN + 1
        end = -(-(b_min - first_min) // SLOT_MIN) + 1
        return Block(row, max(1, end - row))

    index: dict[tuple[str, object], Column] = {}
    for col in columns:
        if days == 1:
            index[("staff" if col.staff_id else "room", col.staff_id or col.room_id)] = col
        else:
            index[("day", col.day)] = col
        if col.staff_id is not None:
            col.closed = col.day in closed
            for a_min, b_min in working(col.staff_id, col.day):
                if (b := block(a_min, b_min)) is not None:
                    col.working.append(b)
            for a, b in away.get(col.staff_id, []):
                if (blk := block(_minute(a, zone, col.day), _minute(b, zone, col.day))) is not None:
                    col.away.append(blk)

    for a in appointments:
        day = a.start.astimezone(zone).date()
        if days == 1:
            key: tuple[str, object] = (
                ("staff", a.staff_id) if by == "staff" else ("room", a.room_id)
            )
        else:
            if (by == "staff" and a.staff_id != (staff[0].pk if staff else None)) or (
                by == "room" and a.room_id != (rooms[0].pk if rooms else None)
            ):
                continue
            key = ("day", day)
        target = index.get(key)
        if target is None:
            continue
        b = block(_minute(a.start, zone, day), _minute(a.end, zone, day))
        if b is None:
            continue
        target.entries.append(Entry(b.row, b.span, appointment=a, colour=a.service_id % PALETTE))
    for col in columns:
        _assign_lanes(col.entries)

    labels = [
        ((m - first_min) // SLOT_MIN + 1, f"{m // 60:02d}:00")
        for m in range(first_min, last_min, 60)
    ]
    return Calendar(
        view="day" if days == 1 else "week",
        by=by,
        days=dates,
        columns=columns,
        first_min=first_min,
        rows=rows,
        time_zone=clinic.time_zone,
        labels=labels,
    )


def _shown(
    lo: dt.datetime,
    hi: dt.datetime,
    zone: ZoneInfo,
    *,
    staff_id: int | None = None,
    room_id: int | None = None,
) -> list[Shown]:
    """The appointments between lo and hi (of one staff member or room, if given), as the grid
    draws them: one query, no model instances. Client names are sealed (P14) and opened for
    their own row and clinic."""
    qs = Appointment.objects.filter(start__lt=hi, end__gt=lo)
    if staff_id is not None:
        qs = qs.filter(staff_id=staff_id)
    if room_id is not None:
        qs = qs.filter(room_id=room_id)
    rows = qs.order_by("start", "pk").values_list(
        "pk",
        "start",
        "end",
        "status",
        "service_id",
        "staff_id",
        "room_id",
        "service__name",
        "staff__display_name",
        "room__name",
        "clinic_id",
        "client_id",
        "client__full_name",
    )
    return [
        Shown(
            pk=pk,
            start=start.astimezone(zone),
            end=end.astimezone(zone),
            status=status,
            service_id=service_id,
            staff_id=staff_id,
            room_id=room_id,
            service=service,
            staff=staff,
            room=room or "",
            client=(
                open_stored(Client, "full_name", clinic_id, client_id, sealed)
                if client_id is not None and sealed is not None
                else None
            ),
        )
        for (
            pk,
            start,
            end,
            status,
            service_id,
            staff_id,
            room_id,
            service,
            staff,
            room,
            clinic_id,
            client_id,
            sealed,
        ) in rows
    ]


def _assign_lanes(entries: list[Entry]) -> None:
    """Side by side where rows overlap (cancelled ones stay in their own lane)."""
    active: list[tuple[int, int]] = []  # (end row, lane)
    group: list[Entry] = []
    group_end = 0
    for entry in sorted(entries, key=lambda e: (e.row, -e.span)):
        if entry.row >= group_end and group:
            width = max(e.lane for e in group) + 1
            for e in group:
                e.lanes = width
            group, active = [], []
        active = [(end, lane) for end, lane in active if end > entry.row]
        used = {lane for _, lane in active}
        entry.lane = next(i for i in range(len(entries) + 1) if i not in used)
        active.append((entry.row + entry.span, entry.lane))
        group.append(entry)
        group_end = max(group_end, entry.row + entry.span)
    if group:
        width = max(e.lane for e in group) + 1
        for e in group:
            e.lanes = width


def client_appointments(*, client_id: object, limit: int = 50) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(client_id=client_id)
        .select_related("service", "staff")
        .order_by("-start")[:limit]
    )


def client_waitlist(*, client_id: object) -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.filter(
            client_id=client_id, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED]
        )
        .select_related("service", "staff")
        .order_by("first_day")
    )


def waitlist_open(*, clinic: Clinic) -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.filter(status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED])
        .select_related("client", "service", "staff")
        .order_by("created_at", "pk")
    )


def locations(*, clinic: Clinic) -> QuerySet[Location]:
    return Location.objects.filter(archived=False).order_by("name")


CANCELLED = {Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC}
