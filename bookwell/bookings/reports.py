"""Numbers for the clinic's overview page: bookings per day, utilisation per staff member,
no-show and cancellation rates. Counts and minutes only, never a client (P7); a fixed number
of queries whatever the amount of data (a test counts them)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from bookwell.bookings.models import BLOCKING, Appointment, Status
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.tenancy.models import Clinic

CANCELLED = [Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC]


@dataclass
class Utilisation:
    staff: str
    booked_min: int
    working_min: int

    @property
    def percent(self) -> int:
        return round(100 * self.booked_min / self.working_min) if self.working_min else 0


@dataclass
class Overview:
    days: list[tuple[dt.date, int]]  # bookings (not cancelled) per day, oldest first
    utilisation: list[Utilisation]
    happened: int  # past appointments that were due (not cancelled)
    no_shows: int
    total: int  # every appointment in the period, cancelled included
    cancelled_by_client: int
    cancelled_by_clinic: int
    today: int
    next_start: dt.datetime | None

    def rate(self, part: int, whole: int) -> int:
        return round(100 * part / whole) if whole else 0

    @property
    def no_show_rate(self) -> int:
        return self.rate(self.no_shows, self.happened)

    @property
    def client_cancel_rate(self) -> int:
        return self.rate(self.cancelled_by_client, self.total)

    @property
    def clinic_cancel_rate(self) -> int:
        return self.rate(self.cancelled_by_clinic, self.total)

    @property
    def busiest(self) -> int:
        return max((n for _, n in self.days), default=0)


def _minutes_overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def overview(*, clinic: Clinic, days: int = 30, now: dt.datetime | None = None) -> Overview:
    now = now or timezone.now()
    zone = ZoneInfo(clinic.time_zone)
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days - 1)
    lo = dt.datetime.combine(first, dt.time(), zone)
    hi = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
    period = Appointment.objects.filter(start__gte=lo, start__lt=hi)

    # 1. Bookings per local day.
    per_day = dict(
        period.filter(status__in=BLOCKING)
        .annotate(day=TruncDate("start", tzinfo=zone))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    series = [
        (first + dt.timedelta(days=i), per_day.get(first + dt.timedelta(days=i), 0))
        for i in range(days)
    ]

    # 2. Rates (one aggregate query).
    past = Q(start__lt=now)
    totals = period.aggregate(
        total=Count("pk"),
        happened=Count("pk", filter=past & Q(status__in=BLOCKING)),
        no_shows=Count("pk", filter=past & Q(status=Status.NO_SHOW)),
        by_client=Count("pk", filter=Q(status=Status.CANCELLED_BY_CLIENT)),
        by_clinic=Count("pk", filter=Q(status=Status.CANCELLED_BY_CLINIC)),
        today=Count(
            "pk",
            filter=Q(status__in=BLOCKING)
            & Q(start__gte=dt.datetime.combine(today, dt.time(), zone)),
        ),
    )
    next_start = (
        Appointment.objects.filter(status__in=BLOCKING, start__gte=now, start__lt=hi)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )

    # 3. Utilisation: booked minutes over working minutes in the period, per staff member.
    staff = list(StaffMember.objects.filter(archived=False, bookable=True).order_by("display_name"))
    booked: dict[int, int] = defaultdict(int)
    for staff_id, start, end in period.filter(status__in=BLOCKING).values_list(
        "staff_id", "start", "end"
    ):
        booked[staff_id] += int((end - start).total_seconds() // 60)
    weekly: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for staff_id, weekday, a, b in WorkingHours.objects.values_list(
        "staff_id", "weekday", "start_min", "end_min"
    ):
        weekly[(staff_id, weekday)].append((a, b))
    overrides: dict[tuple[int, dt.date], list[tuple[int, int]]] = {}
    for staff_id, day, intervals in DateOverride.objects.filter(
        date__gte=first, date__lte=today
    ).values_list("staff_id", "date", "intervals"):
        overrides[(staff_id, day)] = [
            (int(p[0]), int(p[1])) for p in intervals or [] if isinstance(p, list) and len(p) == 2
        ]
    closed: set[dt.date] = set()
    for a, b in ClinicClosure.objects.filter(last_day__gte=first, first_day__lte=today).values_list(
        "first_day", "last_day"
    ):
        day = max(a, first)
        while day <= min(b, today):
            closed.add(day)
            day += dt.timedelta(days=1)
    away: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for staff_id, a, b in TimeOff.objects.filter(start__lt=hi, end__gt=lo).values_list(
        "staff_id", "start", "end"
    ):
        away[staff_id].append((a, b))

    utilisation = []
    for member in staff:
        working = 0
        for i in range(days):
            day = first + dt.timedelta(days=i)
            if day in closed:
                continue
            intervals = overrides.get((member.pk, day), weekly.get((member.pk, day.weekday()), []))
            midnight = dt.datetime.combine(day, dt.time(), zone)
            for a, b in intervals:
                minutes = b - a
                for off_a, off_b in away.get(member.pk, []):
                    oa = int((off_a - midnight).total_seconds() // 60)
                    ob = int((off_b - midnight).total_seconds() // 60)
                    minutes -= _minutes_overlap((a, b), (oa, ob))
                working += max(0, minutes)
        utilisation.append(Utilisation(member.display_name, booked.get(member.pk, 0), working))

    return Overview(
        days=series,
        utilisation=utilisation,
        happened=totals["happened"],
        no_shows=totals["no_shows"],
        total=totals["total"],
        cancelled_by_client=totals["by_client"],
        cancelled_by_clinic=totals["by_clinic"],
        today=totals["today"],
        next_start=next_start,
    )
