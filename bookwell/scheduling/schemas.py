"""API shapes for locations, rooms, services, staff and availability."""

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictInt

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
