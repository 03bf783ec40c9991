"""API shapes for locations, rooms, services, staff and availability."""

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from bookwell.integrations.schemas import BodyId, Day, Id, Input, Moment
from bookwell.scheduling.models import TimeOffCategory


class LocationOut(Schema):
    id: int
    name: str
    address: str
    time_zone: str
    archived: bool
    updated_at: dt.datetime


class RoomOut(Schema):
    id: int
    location_id: int
    name: str
    capacity: int
    archived: bool
    updated_at: dt.datetime


class ServiceOut(Schema):
    id: int
    name: str
    duration_min: int
    buffer_before_min: int
    buffer_after_min: int
    price_cents: int
    currency: str
    capacity: int
    online_bookable: bool
    archived: bool
    updated_at: dt.datetime


class StaffOut(Schema):
    id: int
    display_name: str
    bookable: bool
    archived: bool
    updated_at: dt.datetime


class TimeOut(Schema):
    start: dt.datetime
    staff: list[int]
    rooms: list[int]


class AvailabilityOut(Schema):
    service: int
    times: list[TimeOut]


class HoursOut(Schema):
    location_id: int
    weekday: int = Field(description="Monday is 0.")
    start_min: int = Field(description="Minutes after local midnight.")
    end_min: int


class HoursIn(Input):
    location: BodyId
    weekday: StrictInt = Field(..., ge=0, le=6)
    start_min: StrictInt = Field(..., ge=0, le=1439)
    end_min: StrictInt = Field(..., ge=1, le=1440)


class WeekIn(Input):
    hours: list[HoursIn] = Field(..., max_length=100, description="The whole week; replaces it.")


class OverrideOut(Schema):
    id: int
    staff_id: int
    location_id: int
    date: dt.date
    intervals: list[list[int]] = Field(description="[[start_min, end_min], …]; empty: closed.")
    updated_at: dt.datetime


class OverrideIn(Input):
    location: BodyId
    intervals: list[Annotated[list[StrictInt], Field(min_length=2, max_length=2)]] = Field(
        ..., max_length=12
    )


class TimeOffOut(Schema):
    id: int
    staff_id: int
    start: dt.datetime
    end: dt.datetime
    category: TimeOffCategory
    updated_at: dt.datetime


class TimeOffIn(Input):
    staff: BodyId
    start: Moment
    end: Moment
    category: TimeOffCategory


class ClosureOut(Schema):
    id: int
    first_day: dt.date
    last_day: dt.date
    label: str
    updated_at: dt.datetime


class ClosureIn(Input):
    first_day: Day
    last_day: Day
    label: str = Field("", max_length=80)


class DatedQuery(Schema):
    staff: Id | None = None
    updated_since: Moment | None = Field(
        None, description="Only what changed at or after this moment (incremental sync)."
    )
    start: Day | None = Field(None, description="From this date, inclusive.")
    end: Day | None = Field(None, description="To this date, inclusive.")
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


# --- Catalogue writes (the `admin` scope: owners' and admins' work in the staff app) --------
# In a patch, only the fields sent change; null is not a value.

Text120 = Annotated[str, Field(min_length=1, max_length=120)]
Minutes = Annotated[StrictInt, Field(ge=0, le=240)]


class LocationIn(Input):
    name: Text120
    address: str = Field("", max_length=300)
    time_zone: str = Field(..., max_length=64, description="An IANA zone, e.g. Europe/Berlin.")


class LocationPatch(Input):
    name: Text120 | None = None
    address: str | None = Field(None, max_length=300)
    time_zone: str | None = Field(None, max_length=64)


class RoomIn(Input):
    location: BodyId
    name: Text120
    capacity: StrictInt = Field(1, ge=1, le=500)


class RoomPatch(Input):
    location: BodyId | None = None
    name: Text120 | None = None
    capacity: StrictInt | None = Field(None, ge=1, le=500)


class StaffIn(Input):
    display_name: Text120
    bookable: StrictBool = True


class StaffPatch(Input):
    display_name: Text120 | None = None
    bookable: StrictBool | None = None


class ServiceIn(Input):
    name: Text120
    duration_min: StrictInt = Field(..., ge=5, le=1440)
    buffer_before_min: Minutes = 0
    buffer_after_min: Minutes = 0
    price_cents: StrictInt = Field(0, ge=0, le=10_000_000)
    slot_interval_min: StrictInt = Field(15, ge=5, le=1440)
    min_notice_min: StrictInt = Field(120, ge=0, le=525_600)
    max_advance_days: StrictInt = Field(90, ge=0, le=1826)
    cancel_notice_min: StrictInt = Field(1440, ge=0, le=525_600)
    reschedule_notice_min: StrictInt = Field(1440, ge=0, le=525_600)
    online_bookable: StrictBool = True
    capacity: StrictInt = Field(1, ge=1, le=500)
    staff: list[BodyId] = Field(default_factory=list, max_length=500)
    rooms: list[BodyId] = Field(default_factory=list, max_length=500)


class ServicePatch(Input):
    name: Text120 | None = None
    duration_min: StrictInt | None = Field(None, ge=5, le=1440)
    buffer_before_min: Minutes | None = None
    buffer_after_min: Minutes | None = None
    price_cents: StrictInt | None = Field(None, ge=0, le=10_000_000)
    slot_interval_min: StrictInt | None = Field(None, ge=5, le=1440)
    min_notice_min: StrictInt | None = Field(None, ge=0, le=525_600)
    max_advance_days: StrictInt | None = Field(None, ge=0, le=1826)
    cancel_notice_min: StrictInt | None = Field(None, ge=0, le=525_600)
    reschedule_notice_min: StrictInt | None = Field(None, ge=0, le=525_600)
    online_bookable: StrictBool | None = None
    capacity: StrictInt | None = Field(None, ge=1, le=500)
    staff: list[BodyId] | None = Field(None, max_length=500)
    rooms: list[BodyId] | None = Field(None, max_length=500)


class ArchiveIn(Input):
    archived: StrictBool = Field(True, description="false brings it back.")
