"""A small clinic schedule for booking tests, all inside one clinic."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from bookwell.core.context import clinic_context
from bookwell.scheduling.models import Location, Room, Service, StaffMember, WorkingHours
from bookwell.tenancy.models import Clinic


@dataclass
class Setup:
    clinic: Clinic
    location: Location
    staff: StaffMember
    other_staff: StaffMember
    service: Service
    room: Room


def schedule(clinic: Clinic, *, with_room: bool = False, **service_fields: object) -> Setup:
    with clinic_context(clinic):
        location = Location.objects.create(clinic=clinic, name="Main", time_zone="Europe/Berlin")
        staff = StaffMember.objects.create(clinic=clinic, display_name="Dr. One")
        other = StaffMember.objects.create(clinic=clinic, display_name="Dr. Two")
        room = Room.objects.create(clinic=clinic, location=location, name="Room 1", capacity=1)
        fields = {"name": "Massage", "duration_min": 30, "buffer_after_min": 10, **service_fields}
        service = Service.objects.create(clinic=clinic, **fields)
        service.staff.set([staff, other], through_defaults={"clinic": clinic})
        if with_room:
            service.rooms.set([room], through_defaults={"clinic": clinic})
    return Setup(clinic, location, staff, other, service, room)


def works_every_day(
    setup: Setup, *staff: StaffMember, start_min: int = 8 * 60, end_min: int = 18 * 60
) -> None:
    """Weekly hours on all seven days at the setup's location, for the staff members given
    (the setup's first one by default)."""
    with clinic_context(setup.clinic):
        WorkingHours.objects.bulk_create(
            WorkingHours(
                clinic=setup.clinic,
                staff=member,
                location=setup.location,
                weekday=weekday,
                start_min=start_min,
                end_min=end_min,
            )
            for member in staff or (setup.staff,)
            for weekday in range(7)
        )


def together(
    workers: int, attempt: Callable[[int], object]
) -> tuple[list[object], list[BaseException]]:
    """Runs `attempt(i)` in `workers` threads released at once: (results, exceptions)."""
    barrier = threading.Barrier(workers)
    results: list[object] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=20)
            results.append(attempt(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def race(workers: int, attempt: Callable[[int], object]) -> tuple[int, int, list[BaseException]]:
    """Runs `attempt(i)` in `workers` threads released at once; counts wins and SlotTaken."""
    from bookwell.bookings.services import SlotTaken

    results, errors = together(workers, attempt)
    taken = [e for e in errors if isinstance(e, SlotTaken)]
    return len(results), len(taken), [e for e in errors if not isinstance(e, SlotTaken)]
