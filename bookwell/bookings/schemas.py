"""API shapes for appointments."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from bookwell.bookings.models import CancelReason, OverrideReason, Status, WaitlistStatus
from bookwell.integrations.schemas import BodyId, Day, Id, Input, Moment, Row


class AppointmentOut(Row):
    id: uuid.UUID
    service_id: int
    staff_id: int
    room_id: int | None
    client_id: uuid.UUID | None
    series_id: int | None
    start: dt.datetime
    end: dt.datetime
    status: Status
    cancel_reason: str
    source: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AppointmentDetailOut(AppointmentOut):
    note: str = Field(description="The clinic's note (encrypted at rest; not in lists).")
    payment_status: (
        Literal["pending", "paid", "expired", "failed", "refunded", "partly_refunded"] | None
    ) = Field(
        None,
        description="The status of its latest payment (online or in person); null: none. "
        "GET /appointments/{id}/payments has the amounts.",
    )


class NoteIn(Input):
    note: str = Field(..., max_length=2000)


class AppointmentListQuery(Schema):
    start: Day | None = Field(None, description="From this local date (the clinic's), inclusive.")
    end: Day | None = Field(None, description="To this local date, inclusive.")
    staff: Id | None = None
    client: uuid.UUID | None = None
    status: Status | None = None
    updated_since: Moment | None = Field(
        None, description="Only appointments changed at or after this moment."
    )
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class AppointmentIn(Input):
    service: BodyId
    staff: BodyId | None = Field(None, description="Omit for whoever is free (no preference).")
    start: Moment
    client: uuid.UUID | None = None
    room: BodyId | None = None
    note: str = Field("", max_length=2000)


class RescheduleIn(Input):
    start: Moment
    staff: BodyId | None = Field(None, description="Move to another staff member who offers it.")
    room: BodyId | None = None


class CancelIn(Input):
    reason: CancelReason
    for_client: StrictBool = Field(
        False, description="Cancelled on the client's behalf (their notice window applies)."
    )
    override_reason: OverrideReason | None = Field(
        None, description="Required to cancel for a client inside their notice window."
    )


class StatusIn(Input):
    status: Literal["checked_in", "completed", "no_show"]


class WaitlistOut(Schema):
    id: int
    client_id: uuid.UUID
    service_id: int
    staff_id: int | None
    first_day: dt.date
    last_day: dt.date
    status: WaitlistStatus
    created_at: dt.datetime
    updated_at: dt.datetime


class WaitlistIn(Input):
    client: uuid.UUID
    service: BodyId
    staff: BodyId | None = None
    first_day: Day
    last_day: Day


class WaitlistQuery(Schema):
    updated_since: Moment | None = None
    status: WaitlistStatus | None = None
    service: Id | None = None
    client: uuid.UUID | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class SeriesOut(Schema):
    id: int
    service_id: int
    staff_id: int
    client_id: uuid.UUID | None
    time_zone: str
    first_start: dt.datetime
    every_weeks: int
    count: int | None
    until: dt.date | None
    exceptions: list[str] = Field(description="Local dates left out (skipped or cancelled).")


class SeriesIn(Input):
    service: BodyId
    staff: BodyId
    first_start: Moment
    every_weeks: StrictInt = Field(1, ge=1, le=52)
    count: StrictInt | None = Field(None, ge=1, le=104)
    until: Day | None = None
    client: uuid.UUID | None = None
    skip_conflicts: StrictBool = Field(
        False, description="Book the free dates and leave out the others (else all or none)."
    )


class SeriesBooked(Schema):
    series: SeriesOut
    appointments: list[AppointmentOut]


class SeriesCancelIn(Input):
    from_start: Moment = Field(description="This occurrence (and, unless only_one, the later).")
    only_one: StrictBool = False


class SeriesCancelled(Schema):
    cancelled: int


class PaymentOut(Row):
    """What was paid (or is due) for an appointment: amounts in cents, never card data."""

    id: uuid.UUID
    appointment_id: uuid.UUID
    kind: Literal["deposit", "full"]
    method: Literal["stripe", "in_person"]
    amount_cents: int
    refunded_cents: int
    currency: str
    status: Literal["pending", "paid", "expired", "failed", "refunded", "partly_refunded"]
    created_at: dt.datetime
    paid_at: dt.datetime | None
