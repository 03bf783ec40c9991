"""Recurring appointments: preview the conflicts, then book the rest or none."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.bookings.models import Appointment, RecurringSeries, Status
from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_cancel,
)
from bookwell.clients.models import Client
from bookwell.core.errors import Conflict, ServiceError
from bookwell.scheduling.availability import local_to_utc
from bookwell.scheduling.models import Service, StaffMember
from bookwell.tenancy.models import Clinic

MAX_OCCURRENCES = 104  # two years of weekly appointments


@dataclass(frozen=True)
class Occurrence:
    start: dt.datetime
    conflict: bool


def occurrences(
    *,
    first_start: dt.datetime,
    time_zone: str,
    every_weeks: int,
    count: int | None,
    until: dt.date | None,
) -> list[dt.datetime]:
    """Same local wall-clock time every N weeks (so 09:00 stays 09:00 across DST changes)."""
    if timezone.is_naive(first_start):
        raise ServiceError(_("The start time needs a time zone."), code="naive_time")
    if every_weeks < 1 or every_weeks > 52 or (count is None and until is None):
        raise ServiceError(_("Say how often and until when."), code="bad_recurrence")
    if count is not None and not 1 <= count <= MAX_OCCURRENCES:
        raise ServiceError(
            _("A series has between 1 and %(most)d appointments.") % {"most": MAX_OCCURRENCES},
            code="bad_count",
        )
    if until is not None and until < first_start.astimezone(ZoneInfo(time_zone)).date():
        raise ServiceError(_("The series would end before it starts."), code="bad_until")
    if until is not None and until > first_start.date() + dt.timedelta(days=2 * 366):
        raise ServiceError(_("A series can run for at most two years."), code="bad_until")
    zone = ZoneInfo(time_zone)
    local = first_start.astimezone(zone).replace(tzinfo=None)
    out: list[dt.datetime] = []
    k = 0
    while len(out) < min(count or MAX_OCCURRENCES, MAX_OCCURRENCES):
        when = local + dt.timedelta(weeks=every_weeks * k)
        if until is not None and when.date() > until:
            break
        # The engine's conversion: a time in a spring-forward gap moves to the gap's end.
        seconds = local_to_utc(when.date(), when.hour * 60 + when.minute, zone)
        out.append(dt.datetime.fromtimestamp(seconds, dt.UTC))
        k += 1
    return out


def series_preview(
    *,
    clinic: Clinic,
    service: Service,
    staff: StaffMember,
    starts: list[dt.datetime],
    client: Client | None = None,
) -> list[Occurrence]:
    """Which occurrences would fail, by trying each booking and rolling it back: the very
    same checks as booking (staff time, rooms, class seats), nothing written."""
    result = []
    for start in starts:
        conflict = False
        try:
            with transaction.atomic():
                appointment_book(
                    clinic=clinic,
                    request=BookingRequest(
                        service=service, staff=staff, start=start, client=client
                    ),
                )
                transaction.set_rollback(True)
        except (SlotTaken, Conflict):
            conflict = True
        result.append(Occurrence(start, conflict))
    return result


def series_time_zone(clinic: Clinic, staff: StaffMember) -> str:
    """The wall clock a series keeps: the staff member's location's, if they work in one
    time zone; otherwise the clinic's."""
    from bookwell.scheduling.models import WorkingHours

    zones = set(
        WorkingHours.objects.filter(staff=staff).values_list("location__time_zone", flat=True)
    )
    return zones.pop() if len(zones) == 1 else clinic.time_zone


def series_book(
    *,
    clinic: Clinic,
    service: Service,
    staff: StaffMember,
    first_start: dt.datetime,
    every_weeks: int = 1,
    count: int | None = None,
    until: dt.date | None = None,
    client: Client | None = None,
    skip_conflicts: bool = False,
    actor: User | None = None,
) -> tuple[RecurringSeries, list[Appointment]]:
    """Books every occurrence in one transaction: with skip_conflicts the free ones (the
    others recorded as exceptions), otherwise all of them or none."""
    tz = series_time_zone(clinic, staff)
    starts = occurrences(
        first_start=first_start, time_zone=tz, every_weeks=every_weeks, count=count, until=until
    )
    with transaction.atomic():
        series = RecurringSeries(
            clinic=clinic,
            service=service,
            staff=staff,
            client=client,
            time_zone=tz,
            first_start=first_start,
            every_weeks=every_weeks,
            count=count,
            until=until,
        )
        series.full_clean()
        series.save()
        booked: list[Appointment] = []
        skipped: list[str] = []
        for start in starts:
            try:
                with transaction.atomic():
                    appointment = appointment_book(
                        clinic=clinic,
                        request=BookingRequest(
                            service=service, staff=staff, start=start, client=client
                        ),
                        actor=actor,
                    )
            except (SlotTaken, Conflict):  # the same conflicts the preview reports
                if not skip_conflicts:
                    raise
                skipped.append(start.astimezone(ZoneInfo(tz)).date().isoformat())
                continue
            appointment.series = series
            appointment.save(update_fields=["series"])
            booked.append(appointment)
        series.exceptions = skipped
        series.save(update_fields=["exceptions"])
    return series, booked


def series_cancel(
    *, series: RecurringSeries, from_start: dt.datetime, only_one: bool = False
) -> int:
    """Cancels one occurrence, or it and every later one still to come. The cancelled local
    dates join the series' exceptions. Returns how many were cancelled."""
    qs = Appointment.objects.filter(series=series, status__in=[Status.PENDING, Status.CONFIRMED])
    qs = qs.filter(start__gte=timezone.now())  # what has happened stays as it was
    qs = qs.filter(start=from_start) if only_one else qs.filter(start__gte=from_start)
    zone = ZoneInfo(series.time_zone)
    cancelled: list[str] = []
    with transaction.atomic():
        for appointment in qs.order_by("start"):
            appointment_cancel(appointment=appointment, by_client=False)
            cancelled.append(appointment.start.astimezone(zone).date().isoformat())
        if cancelled:
            series.exceptions = sorted(set(series.exceptions or []) | set(cancelled))
            series.save(update_fields=["exceptions"])
    return len(cancelled)
