"""API: locations, rooms, services, staff (read) and availability."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from bookwell.core.access import access_in_clinic
from bookwell.integrations.auth import endpoint
from bookwell.integrations.pagination import MAX_LIMIT, page
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import Day, Id, Moment, PageOf
from bookwell.integrations.scopes import Scope
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
from bookwell.scheduling.schemas import (
    ArchiveIn,
    AvailabilityOut,
    ClosureIn,
    ClosureOut,
    DatedQuery,
    HoursOut,
    LocationIn,
    LocationOut,
    LocationPatch,
    OverrideIn,
    OverrideOut,
    RoomIn,
    RoomOut,
    RoomPatch,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    StaffIn,
    StaffOut,
    StaffPatch,
    TimeOffIn,
    TimeOffOut,
    TimeOut,
    WeekIn,
)
from bookwell.scheduling.selectors import availability
from bookwell.scheduling.services import (
    catalog_archive,
    catalog_save,
    closure_add,
    override_set,
    schedule_entry_remove,
    service_save,
    time_off_add,
    weekly_hours_replace,
)

router = Router(tags=["schedule"])


class ListQuery(Schema):
    updated_since: Moment | None = Field(
        None, description="Only what changed at or after this moment (incremental sync)."
    )
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    archived: bool | None = Field(None, description="Only archived (true) or current (false).")


def _listed(qs: Any, q: ListQuery) -> dict[str, Any]:
    if q.archived is not None:
        qs = qs.filter(archived=q.archived)
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit, updated_since=q.updated_since)
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


# --- Hours, date overrides, time off, closures ----------------------------------------------


@endpoint(router.get, "/staff/{staff_id}/hours", scope=Scope.SCHEDULE_READ, response=list[HoursOut])
def hours_get(request: HttpRequest, staff_id: int) -> Any:
    """A staff member's weekly hours, in each location's wall-clock time."""
    staff = access_in_clinic(StaffMember, staff_id)
    return WorkingHours.objects.filter(staff=staff).order_by("weekday", "start_min")


@endpoint(
    router.put, "/staff/{staff_id}/hours", scope=Scope.SCHEDULE_WRITE, response=list[HoursOut]
)
def hours_replace(request: HttpRequest, staff_id: int, body: WeekIn) -> Any:
    """Replaces the whole week at once (intervals of a day may not overlap)."""
    staff = access_in_clinic(StaffMember, staff_id)
    week: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for row in body.hours:
        location = access_in_clinic(Location, row.location)
        if row.end_min <= row.start_min:
            raise ApiError(422, "bad_range", "Each interval must end after it starts.")
        week.setdefault((location.pk, row.weekday), []).append((row.start_min, row.end_min))
    weekly_hours_replace(clinic=request.auth.clinic, staff=staff, hours=week)  # type: ignore[attr-defined]
    return WorkingHours.objects.filter(staff=staff).order_by("weekday", "start_min")


def _dated(qs: Any, q: DatedQuery, field: str, end_field: str | None = None) -> dict[str, Any]:
    if q.staff is not None:
        qs = qs.filter(staff=access_in_clinic(StaffMember, q.staff))
    if q.start is not None:
        qs = qs.filter(**{f"{end_field or field}__gte": q.start})
    if q.end is not None:
        qs = qs.filter(**{f"{field}__lte": q.end})
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit, updated_since=q.updated_since)
    return {"items": items, "next_cursor": cursor}


@endpoint(router.get, "/overrides", scope=Scope.SCHEDULE_READ, response=PageOf[OverrideOut])
def overrides_list(request: HttpRequest, q: Query[DatedQuery]) -> dict[str, Any]:
    return _dated(DateOverride.objects.all(), q, "date")


@endpoint(
    router.put,
    "/staff/{staff_id}/overrides/{date}",
    scope=Scope.SCHEDULE_WRITE,
    response=OverrideOut,
)
def override_put(request: HttpRequest, staff_id: int, date: Day, body: OverrideIn) -> Any:
    """Other hours on one date (replacing any earlier override); no intervals: closed."""
    staff = access_in_clinic(StaffMember, staff_id)
    location = access_in_clinic(Location, body.location)
    return override_set(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        staff=staff,
        date=date,
        location=location,
        intervals=[(a, b) for a, b in body.intervals],
    )


@endpoint(
    router.delete, "/overrides/{override_id}", scope=Scope.SCHEDULE_WRITE, response={204: None}
)
def override_remove(request: HttpRequest, override_id: int) -> Status[None]:
    schedule_entry_remove(entry=access_in_clinic(DateOverride, override_id))
    return Status(204, None)


@endpoint(router.get, "/time-off", scope=Scope.SCHEDULE_READ, response=PageOf[TimeOffOut])
def time_off_list(request: HttpRequest, q: Query[DatedQuery]) -> dict[str, Any]:
    return _dated(TimeOff.objects.all(), q, "start__date", "end__date")


@endpoint(router.post, "/time-off", scope=Scope.SCHEDULE_WRITE, response={201: TimeOffOut})
def time_off_create(request: HttpRequest, body: TimeOffIn) -> Status[TimeOff]:
    made = time_off_add(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        staff=access_in_clinic(StaffMember, body.staff),
        start=body.start,
        end=body.end,
        category=body.category,
    )
    return Status(201, made)


@endpoint(
    router.delete, "/time-off/{time_off_id}", scope=Scope.SCHEDULE_WRITE, response={204: None}
)
def time_off_remove(request: HttpRequest, time_off_id: int) -> Status[None]:
    schedule_entry_remove(entry=access_in_clinic(TimeOff, time_off_id))
    return Status(204, None)


@endpoint(router.get, "/closures", scope=Scope.SCHEDULE_READ, response=PageOf[ClosureOut])
def closures_list(request: HttpRequest, q: Query[DatedQuery]) -> dict[str, Any]:
    if q.staff is not None:
        raise ApiError(422, "bad_filter", "Closures are the whole clinic's: no staff filter.")
    return _dated(ClinicClosure.objects.all(), q, "first_day", "last_day")


@endpoint(router.post, "/closures", scope=Scope.SCHEDULE_WRITE, response={201: ClosureOut})
def closure_create(request: HttpRequest, body: ClosureIn) -> Status[ClinicClosure]:
    if body.last_day < body.first_day:
        raise ApiError(422, "bad_range", "last_day must not be before first_day.")
    closure = ClinicClosure(first_day=body.first_day, last_day=body.last_day, label=body.label)
    return Status(201, closure_add(clinic=request.auth.clinic, closure=closure))  # type: ignore[attr-defined]


@endpoint(router.delete, "/closures/{closure_id}", scope=Scope.SCHEDULE_WRITE, response={204: None})
def closure_remove(request: HttpRequest, closure_id: int) -> Status[None]:
    schedule_entry_remove(entry=access_in_clinic(ClinicClosure, closure_id))
    return Status(204, None)


# --- Catalogue: locations, rooms, staff, services (create, change, archive) -----------------


def _changes(body: Any) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise ApiError(422, "null_field", "Leave a field out to keep it; null is not a value.")
    return dict(changes)


def _catalog(request: HttpRequest, obj: Any, changes: dict[str, Any]) -> Any:
    if "location" in changes:
        changes["location"] = access_in_clinic(Location, changes["location"])
    return catalog_save(clinic=request.auth.clinic, obj=obj, **changes)  # type: ignore[attr-defined]


@endpoint(router.post, "/locations", scope=Scope.ADMIN, response={201: LocationOut})
def location_create(request: HttpRequest, body: LocationIn) -> Status[Any]:
    return Status(201, _catalog(request, Location(), body.model_dump()))


@endpoint(router.patch, "/locations/{location_id}", scope=Scope.ADMIN, response=LocationOut)
def location_change(request: HttpRequest, location_id: int, body: LocationPatch) -> Any:
    return _catalog(request, access_in_clinic(Location, location_id), _changes(body))


@endpoint(router.post, "/rooms", scope=Scope.ADMIN, response={201: RoomOut})
def room_create(request: HttpRequest, body: RoomIn) -> Status[Any]:
    return Status(201, _catalog(request, Room(), body.model_dump()))


@endpoint(router.patch, "/rooms/{room_id}", scope=Scope.ADMIN, response=RoomOut)
def room_change(request: HttpRequest, room_id: int, body: RoomPatch) -> Any:
    return _catalog(request, access_in_clinic(Room, room_id), _changes(body))


@endpoint(router.post, "/staff", scope=Scope.ADMIN, response={201: StaffOut})
def staff_create(request: HttpRequest, body: StaffIn) -> Status[Any]:
    return Status(201, _catalog(request, StaffMember(), body.model_dump()))


@endpoint(router.patch, "/staff/{staff_id}", scope=Scope.ADMIN, response=StaffOut)
def staff_change(request: HttpRequest, staff_id: int, body: StaffPatch) -> Any:
    return _catalog(request, access_in_clinic(StaffMember, staff_id), _changes(body))


def _service(request: HttpRequest, service: Service, changes: dict[str, Any]) -> Service:
    staff_ids = changes.pop("staff", None)
    room_ids = changes.pop("rooms", None)
    staff = (
        [access_in_clinic(StaffMember, i) for i in staff_ids]
        if staff_ids is not None
        else list(service.staff.all())
        if service.pk
        else []
    )
    rooms = (
        [access_in_clinic(Room, i) for i in room_ids]
        if room_ids is not None
        else list(service.rooms.all())
        if service.pk
        else []
    )
    cents = changes.pop("price_cents", service.price_cents)
    for name, value in changes.items():
        setattr(service, name, value)
    return service_save(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        service=service,
        price=Decimal(cents) / 100,
        staff=staff,
        rooms=rooms,
    )


@endpoint(router.post, "/services", scope=Scope.ADMIN, response={201: ServiceOut})
def service_create(request: HttpRequest, body: ServiceIn) -> Status[Service]:
    """A new service; `staff` and `rooms` list who performs it and where."""
    return Status(201, _service(request, Service(), body.model_dump()))


@endpoint(router.patch, "/services/{service_id}", scope=Scope.ADMIN, response=ServiceOut)
def service_change(request: HttpRequest, service_id: int, body: ServicePatch) -> Service:
    """Changes the fields sent; `staff` or `rooms`, when sent, replace the lists."""
    return _service(request, access_in_clinic(Service, service_id), _changes(body))


def _archive(model: Any, pk: int, body: ArchiveIn) -> Any:
    return catalog_archive(obj=access_in_clinic(model, pk), archived=body.archived)


@endpoint(router.post, "/locations/{location_id}/archive", scope=Scope.ADMIN, response=LocationOut)
def location_archive(request: HttpRequest, location_id: int, body: ArchiveIn) -> Any:
    """Archived, not deleted: what appointments refer to stays."""
    return _archive(Location, location_id, body)


@endpoint(router.post, "/rooms/{room_id}/archive", scope=Scope.ADMIN, response=RoomOut)
def room_archive(request: HttpRequest, room_id: int, body: ArchiveIn) -> Any:
    return _archive(Room, room_id, body)


@endpoint(router.post, "/staff/{staff_id}/archive", scope=Scope.ADMIN, response=StaffOut)
def staff_archive(request: HttpRequest, staff_id: int, body: ArchiveIn) -> Any:
    return _archive(StaffMember, staff_id, body)


@endpoint(router.post, "/services/{service_id}/archive", scope=Scope.ADMIN, response=ServiceOut)
def service_archive(request: HttpRequest, service_id: int, body: ArchiveIn) -> Any:
    return _archive(Service, service_id, body)
