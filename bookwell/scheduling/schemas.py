"""API shapes for locations, rooms, services, staff and availability."""

import datetime as dt

from ninja import Schema


class LocationOut(Schema):
    id: int
    name: str
    address: str
    time_zone: str
    archived: bool


class RoomOut(Schema):
    id: int
    location_id: int
    name: str
    capacity: int
    archived: bool


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


class StaffOut(Schema):
    id: int
    display_name: str
    bookable: bool
    archived: bool


class TimeOut(Schema):
    start: dt.datetime
    staff: list[int]
    rooms: list[int]


class AvailabilityOut(Schema):
    service: int
    times: list[TimeOut]
