"""Writes for the clinic's catalogue and schedules. Nothing appointments refer to is deleted:
it is archived (hidden from booking, kept for the record)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import audit
from bookwell.bookings.models import BLOCKING, Appointment
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
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.plans import plan_check_seats


def service_save(
    *,
    clinic: Clinic,
    service: Service,
    price: Decimal,
    staff: list[StaffMember],
    rooms: list[Room],
    deposit: Decimal = Decimal(0),
) -> Service:
    service.clinic = clinic
    service.price_cents = int((price * 100).to_integral_value())
    service.deposit_cents = int((deposit * 100).to_integral_value())
    with transaction.atomic():
        service.full_clean()
        service.save()
        service.staff.set(staff, through_defaults={"clinic": clinic})
        service.rooms.set(rooms, through_defaults={"clinic": clinic})
        _catalog_audit(service, "saved")
    return service


def catalog_save(*, clinic: Clinic, obj: models.Model, **extra: Any) -> models.Model:
    """Saves a staff member, location or room after full validation."""
    obj.clinic = clinic  # type: ignore[attr-defined]
    for name, value in extra.items():
        setattr(obj, name, value)
    # Who the row was linked to (a list: empty for a new row, [None] for nobody).
    linked_before = (
        list(StaffMember.objects.filter(pk=obj.pk).values_list("user_id", flat=True))
        if isinstance(obj, StaffMember) and obj.pk
        else []
    )
    # A staff member added, or one archived brought back, takes a seat of the plan (P9).
    takes_seat = (
        isinstance(obj, StaffMember)
        and not obj.archived
        and (obj._state.adding or StaffMember.objects.filter(pk=obj.pk, archived=True).exists())
    )
    try:
        with transaction.atomic():
            obj.full_clean()
            if takes_seat:
                plan_check_seats(clinic)
            obj.save()
            if isinstance(obj, StaffMember) and linked_before not in ([], [obj.user_id]):
                # Linked to someone else (or to nobody, or from nobody to someone): any
                # calendar link handed out for this row stops.
                from bookwell.notifications.feeds import feed_revoke

                feed_revoke(staff=obj)
            _catalog_audit(obj, "saved")
    except IntegrityError as exc:
        # A room made single while bookings share it at one time (the database refuses).
        raise ValidationError(
            {"capacity": [_("Bookings already share this room at the same time; move them first.")]}
        ) from exc
    return obj


def catalog_archive(*, obj: models.Model, archived: bool) -> models.Model:
    with transaction.atomic():
        if isinstance(obj, StaffMember) and obj.archived and not archived:
            plan_check_seats(obj.clinic)  # back in use: a seat of the plan (P9)
        obj.archived = archived  # type: ignore[attr-defined]
        obj.save(update_fields=["archived"])
        _catalog_audit(obj, "archived" if archived else "restored")
    return obj


_KINDS: dict[type[models.Model], str] = {
    Service: TargetKind.SERVICE,
    StaffMember: TargetKind.STAFF,
    Location: TargetKind.LOCATION,
}


def _catalog_audit(obj: models.Model, change: str) -> None:
    audit(
        Action.CATALOG_CHANGED,
        clinic_id=obj.clinic_id,  # type: ignore[attr-defined]
        target_kind=_KINDS.get(type(obj), TargetKind.ROOM),
        target_id=obj.pk,
        extra={"change": change},
    )


def _schedule_audit(clinic_id: int, what: str, change: str, staff: object) -> None:
    """`staff`: the staff member (or their id) whose schedule it is; None for the clinic."""
    staff_id = getattr(staff, "pk", staff)
    audit(
        Action.SCHEDULE_CHANGED,
        clinic_id=clinic_id,
        target_kind=TargetKind.STAFF if staff_id is not None else TargetKind.CLINIC,
        target_id=staff_id if staff_id is not None else clinic_id,
        extra={"what": what, "change": change},
    )


def schedule_entry_remove(*, entry: DateOverride | TimeOff | ClinicClosure) -> None:
    """Removes a date override, a time off or a closure (and records it)."""
    what = {DateOverride: "override", TimeOff: "time_off"}.get(type(entry), "closure")
    staff_id = getattr(entry, "staff_id", None)
    with transaction.atomic():
        entry.delete()
        _schedule_audit(entry.clinic_id, what, "removed", staff_id)


def future_appointments(*, staff: StaffMember) -> int:
    return Appointment.objects.filter(
        staff=staff, status__in=BLOCKING, start__gt=timezone.now()
    ).count()


def weekly_hours_replace(
    *,
    clinic: Clinic,
    staff: StaffMember,
    hours: dict[tuple[int, int], list[tuple[int, int]]],
) -> int:
    """Replaces the staff member's week at once. `hours` maps (location id, weekday) to
    intervals in that location's wall-clock minutes. Intervals of one day may not overlap,
    also across locations (nobody works in two places at once)."""
    by_day: dict[int, list[tuple[int, int]]] = {}
    for (_location, weekday), pairs in hours.items():
        by_day.setdefault(weekday, []).extend(pairs)
    for weekday, pairs in by_day.items():
        ordered = sorted(pairs)
        for (_a1, b1), (a2, _b2) in itertools.pairwise(ordered):
            if a2 < b1:
                raise ValidationError(
                    {f"day_{weekday}": [_("These hours overlap with those at another location.")]}
                )
    rows = [
        WorkingHours(
            clinic=clinic,
            staff=staff,
            location_id=location_id,
            weekday=weekday,
            start_min=a,
            end_min=b,
        )
        for (location_id, weekday), pairs in hours.items()
        for a, b in pairs
    ]
    with transaction.atomic():
        for row in rows:
            row.full_clean(exclude=["staff", "location"])
        WorkingHours.objects.filter(staff=staff).delete()
        WorkingHours.objects.bulk_create(rows)
        _schedule_audit(clinic.pk, "weekly_hours", "replaced", staff)
    return len(rows)


def override_set(
    *,
    clinic: Clinic,
    staff: StaffMember,
    date: dt.date,
    location: Location,
    intervals: list[tuple[int, int]],
) -> DateOverride:
    """Other hours (or none) on one date; replaces an earlier override of that date."""
    with transaction.atomic():
        DateOverride.objects.filter(staff=staff, date=date).delete()
        override = DateOverride(
            clinic=clinic,
            staff=staff,
            location=location,
            date=date,
            intervals=[[a, b] for a, b in intervals],
        )
        override.full_clean()
        override.save()
        _schedule_audit(clinic.pk, "override", "set", staff)
    return override


def time_off_add(
    *,
    clinic: Clinic,
    staff: StaffMember,
    start: dt.datetime,
    end: dt.datetime,
    category: str,
) -> TimeOff:
    if end <= start:
        raise ValidationError({"end": [_("The end must be after the start.")]})
    time_off = TimeOff(clinic=clinic, staff=staff, start=start, end=end, category=category)
    time_off.full_clean()
    with transaction.atomic():
        time_off.save()
        _schedule_audit(clinic.pk, "time_off", "added", staff)
    return time_off


def closure_add(*, clinic: Clinic, closure: ClinicClosure) -> ClinicClosure:
    closure.clinic = clinic
    closure.full_clean()
    with transaction.atomic():
        closure.save()
        _schedule_audit(clinic.pk, "closure", "added", None)
    return closure
