"""API: locations, rooms, services, staff (read) and availability."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from bookwell.core.access import access_in_clinic
from bookwell.integrations.auth import endpoint
from bookwell.integrations.pagination import MAX_LIMIT, page
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import Day, Id, PageOf
from bookwell.integrations.scopes import Scope
from bookwell.scheduling.models import Location, Room, Service, StaffMember
from bookwell.scheduling.schemas import (
    AvailabilityOut,
    LocationOut,
    RoomOut,
    ServiceOut,
    StaffOut,
    TimeOut,
)
from bookwell.scheduling.selectors import availability

router = Router(tags=["schedule"])


class ListQuery(Schema):
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    archived: bool | None = Field(None, description="Only archived (true) or current (false).")


def _listed(qs: Any, q: ListQuery) -> dict[str, Any]:
    if q.archived is not None:
        qs = qs.filter(archived=q.archived)
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit)
    return {"items": items, "next_cursor": cursor}


@endpoint(router.get, "/locations", scope=Scope.SCHEDULE_READ, response=PageOf[LocationOut])
def locations_list(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    return _listed(Location.objects.all(), q)


@endpoint(router.get, "/rooms", scope=Scope.SCHEDULE_READ, response=PageOf[RoomOut])
def rooms_list(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    return _listed(Room.objects.all(), q)


@endpoint(router.get, "/services", scope=Scope.SCHEDULE_READ, response=PageOf[ServiceOut])
def services_list(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    return _listed(Service.objects.all(), q)


@endpoint(router.get, "/services/{service_id}", scope=Scope.SCHEDULE_READ, response=ServiceOut)
def service_get(request: HttpRequest, service_id: int) -> Service:
    return access_in_clinic(Service, service_id)


@endpoint(router.get, "/staff", scope=Scope.SCHEDULE_READ, response=PageOf[StaffOut])
def staff_list(request: HttpRequest, q: Query[ListQuery]) -> dict[str, Any]:
    return _listed(StaffMember.objects.all(), q)


@endpoint(router.get, "/staff/{staff_id}", scope=Scope.SCHEDULE_READ, response=StaffOut)
def staff_get(request: HttpRequest, staff_id: int) -> StaffMember:
    return access_in_clinic(StaffMember, staff_id)


MAX_AVAILABILITY_DAYS = 62


class AvailabilityQuery(Schema):
    service: Id
    start: Day = Field(..., description="First local date (the clinic's), inclusive.")
    end: Day = Field(
        ...,
        description=f"Last local date, inclusive; {MAX_AVAILABILITY_DAYS} days at most.",
    )
    staff: Id | None = None


@endpoint(router.get, "/availability", scope=Scope.APPOINTMENTS_READ, response=AvailabilityOut)
def availability_get(request: HttpRequest, q: Query[AvailabilityQuery]) -> dict[str, Any]:
    """Free start times of a service between two dates, with the staff free at each."""
    if q.end < q.start:
        raise ApiError(422, "bad_range", "end must not be before start.")
    if (q.end - q.start).days >= MAX_AVAILABILITY_DAYS:
        raise ApiError(422, "range_too_long", f"Ask for at most {MAX_AVAILABILITY_DAYS} days.")
    service = access_in_clinic(Service, q.service, queryset=Service.objects.filter(archived=False))
    staff_ids = None
    if q.staff is not None:
        staff_ids = [access_in_clinic(StaffMember, q.staff).pk]
    slots = availability(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        service=service,
        first=q.start,
        last=q.end,
        staff_ids=staff_ids,
    )
    times = [
        TimeOut(
            start=dt.datetime.fromtimestamp(s.start, dt.UTC),
            staff=[int(x) for x in s.staff],
            rooms=list(s.rooms),
        )
        for s in slots
    ]
    return {"service": service.pk, "times": times}
