"""API: appointments — list, read, book (idempotent), move, cancel, change status."""

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Header, Query, Router, Status

from bookwell.bookings import desk
from bookwell.bookings.models import Appointment, RecurringSeries, Source, WaitlistEntry
from bookwell.bookings.online import online_waitlist_leave
from bookwell.bookings.recurring import series_book, series_cancel
from bookwell.bookings.schemas import (
    AppointmentDetailOut,
    AppointmentIn,
    AppointmentListQuery,
    AppointmentOut,
    CancelIn,
    NoteIn,
    PaymentOut,
    RescheduleIn,
    SeriesBooked,
    SeriesCancelIn,
    SeriesCancelled,
    SeriesIn,
    SeriesOut,
    StatusIn,
    WaitlistIn,
    WaitlistOut,
    WaitlistQuery,
)
from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_book_any_staff,
    appointment_reschedule,
    appointment_set_status,
)
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients.models import Client
from bookwell.core.access import (
    Hint,
    StaleHint,
    access_all_in_clinic,
    access_in_clinic,
    hinted_in_clinic,
)
from bookwell.integrations.auth import endpoint
from bookwell.integrations.pagination import page
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import PageOf, json_page
from bookwell.integrations.scopes import Scope
from bookwell.scheduling.models import Room, Service, StaffMember

router = Router(tags=["appointments"])
APPOINTMENT_COLUMNS = tuple(AppointmentOut.model_fields)


def _clinic_zone(request: HttpRequest) -> ZoneInfo:
    return ZoneInfo(request.auth.clinic.time_zone)  # type: ignore[attr-defined]


@endpoint(
    router.get, "/appointments", scope=Scope.APPOINTMENTS_READ, response=PageOf[AppointmentOut]
)
def appointments_list(request: HttpRequest, q: Query[AppointmentListQuery]) -> HttpResponse:
    """Appointments by local date range, staff member, client and status; newest changes last."""
    qs = Appointment.objects.all()
    zone = _clinic_zone(request)
    if q.start is not None:
        qs = qs.filter(start__gte=dt.datetime.combine(q.start, dt.time(), zone))
    if q.end is not None:
        if q.start is not None and q.end < q.start:
            raise ApiError(422, "bad_range", "end must not be before start.")
        qs = qs.filter(start__lt=dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time(), zone))
    # Filters by id name objects of this clinic: another clinic's id is a 404, as everywhere.
    if q.staff is not None:
        qs = qs.filter(staff=access_in_clinic(StaffMember, q.staff))
    if q.client is not None:
        qs = qs.filter(client=access_in_clinic(Client, q.client))
    if q.status is not None:
        qs = qs.filter(status=q.status)
    # Plain rows, not model instances, written by pydantic: a page of 100 renders in a
    # fraction of the time (bench/api_load.py).
    rows = qs.values(*APPOINTMENT_COLUMNS)
    items, cursor = page(rows, cursor=q.cursor, limit=q.limit, updated_since=q.updated_since)
    return json_page(AppointmentOut, items, cursor)


@endpoint(
    router.get,
    "/appointments/{appointment_id}",
    scope=Scope.APPOINTMENTS_READ,
    response=AppointmentDetailOut,
)
def appointment_get(request: HttpRequest, appointment_id: uuid.UUID) -> Appointment:
    return _with_payment_status(access_in_clinic(Appointment, appointment_id))


def _with_payment_status(appointment: Appointment) -> Appointment:
    """Read here, in the clinic's context (the response is rendered after it)."""
    from bookwell.payments.models import Payment

    appointment.payment_status = (  # type: ignore[attr-defined]
        Payment.objects.filter(appointment_id=appointment.pk)
        .order_by("-created_at")
        .values_list("status", flat=True)
        .first()
    )
    return appointment


@endpoint(
    router.get,
    "/appointments/{appointment_id}/payments",
    scope=Scope.APPOINTMENTS_READ,
    response=list[PaymentOut],
)
def appointment_payments(request: HttpRequest, appointment_id: uuid.UUID) -> list[Any]:
    """What was paid online or in person for the appointment, and what went back."""
    from bookwell.payments.models import Payment

    appointment = access_in_clinic(Appointment, appointment_id)
    return list(Payment.objects.filter(appointment=appointment).order_by("created_at"))


IDEMPOTENCY_HELP = (
    "Any string of up to 80 characters. Sending the same key with the same body again returns "
    "the appointment made the first time; the same key with another body is a 409."
)


@endpoint(
    router.post,
    "/appointments",
    scope=Scope.APPOINTMENTS_WRITE,
    response={201: AppointmentDetailOut},
)
def appointment_create(
    request: HttpRequest,
    body: AppointmentIn,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=80, description=IDEMPOTENCY_HELP),
    ] = None,
) -> Status[Appointment]:
    """Books a time that availability offers (working hours, notice, advance window)."""
    key = (idempotency_key or "").strip() or None
    try:
        made = _book(request, body, key, hint=_hint(body, key))
    except StaleHint:  # the service or staff member changed since this process last read them
        made = _book(request, body, key, hint=None)
    return Status(201, made)


def _hint(body: AppointmentIn, key: str | None) -> Hint | None:
    """The service and staff member as this process last read them, when a booking can
    confirm them in availability's round trip instead of reading them first: one-to-one,
    bookable, with a staff member named, no client, no room and no idempotency key (see
    appointment_book: nothing else may be checked against rows not yet confirmed)."""
    if body.staff is None or key is not None or body.client or body.room:
        return None  # (a client or a room is read first anyway, and checked against these)
    hint = hinted_in_clinic((Service, body.service), (StaffMember, body.staff))
    if hint is None:
        return None
    service, staff = hint.instances
    if service.capacity != 1 or service.archived or staff.archived or not staff.bookable:
        return None  # (read afresh: what it would refuse must be refused as it is now)
    return hint


def _book(
    request: HttpRequest, body: AppointmentIn, key: str | None, *, hint: Hint | None
) -> Appointment:
    clinic = request.auth.clinic  # type: ignore[attr-defined]
    # Everything the request names, in one round trip (the service and staff member confirmed
    # in availability's instead, when hinted).
    wanted: list[tuple[type[Any], Any]] = []
    if hint is None:
        wanted.append((Service, body.service))
        if body.staff is not None:
            wanted.append((StaffMember, body.staff))
    if body.client:
        wanted.append((Client, body.client))
    if body.room:
        wanted.append((Room, body.room))
    found = (
        dict(
            zip(
                (m for m, _ in wanted),
                access_all_in_clinic(*wanted, keep=(Service, StaffMember)),
                strict=True,
            )
        )
        if wanted
        else {}
    )
    if hint is not None:
        found[Service], found[StaffMember] = hint.instances
    service = found[Service]
    client, room, staff = found.get(Client), found.get(Room), found.get(StaffMember)
    try:
        if body.staff is None:
            if room is not None or body.note.strip():
                raise ApiError(
                    422,
                    "needs_staff",
                    "Choose a staff member to book with a room or a note.",
                )
            return appointment_book_any_staff(
                clinic=clinic,
                service=service,
                start=body.start,
                client=client,
                source=Source.API,
                idempotency_key=key,
            )
        assert staff is not None  # named, so found (or 404 above)
        return appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=service,
                staff=staff,
                start=body.start,
                client=client,
                room=room,
                source=Source.API,
                note=body.note.strip(),
            ),
            idempotency_key=key,
            # Any failure here is the call's answer, and rolls everything back.
            count_also=[request.api_use],  # type: ignore[attr-defined]
            hint=hint,
            whole=True,
        )
    except SlotTaken as exc:
        raise ApiError(409, "slot_taken", "This time is not free.") from exc


@endpoint(
    router.post,
    "/appointments/{appointment_id}/reschedule",
    scope=Scope.APPOINTMENTS_WRITE,
    response=AppointmentOut,
)
def appointment_move(
    request: HttpRequest, appointment_id: uuid.UUID, body: RescheduleIn
) -> Appointment:
    """Moves to another time (and optionally another staff member or room)."""
    appointment = access_in_clinic(Appointment, appointment_id)
    staff = access_in_clinic(StaffMember, body.staff) if body.staff else None
    room = access_in_clinic(Room, body.room) if body.room else None
    try:
        return appointment_reschedule(
            clinic=request.auth.clinic,  # type: ignore[attr-defined]
            appointment=appointment,
            start=body.start,
            staff=staff,
            room=room,
        )
    except SlotTaken as exc:
        raise ApiError(409, "slot_taken", "This time is not free.") from exc


@endpoint(
    router.post,
    "/appointments/{appointment_id}/cancel",
    scope=Scope.APPOINTMENTS_WRITE,
    response=AppointmentOut,
)
def appointment_cancel(
    request: HttpRequest, appointment_id: uuid.UUID, body: CancelIn
) -> Appointment:
    """Cancels with a reason category; the freed time goes to the waitlist."""
    appointment = access_in_clinic(Appointment, appointment_id)
    return desk.desk_cancel(
        appointment=appointment,
        for_client=body.for_client,
        reason=body.reason,
        override_reason=body.override_reason,
    )


@endpoint(
    router.post,
    "/appointments/{appointment_id}/status",
    scope=Scope.APPOINTMENTS_WRITE,
    response=AppointmentOut,
)
def appointment_status(
    request: HttpRequest, appointment_id: uuid.UUID, body: StatusIn
) -> Appointment:
    """Marks arrived (checked_in), completed or no-show."""
    appointment = access_in_clinic(Appointment, appointment_id)
    with transaction.atomic():
        return appointment_set_status(appointment=appointment, status=body.status)


# --- Waitlist --------------------------------------------------------------------------------


@endpoint(router.get, "/waitlist", scope=Scope.APPOINTMENTS_READ, response=PageOf[WaitlistOut])
def waitlist_list(request: HttpRequest, q: Query[WaitlistQuery]) -> dict[str, Any]:
    """Clients waiting for a time, by status, service or client."""
    qs = WaitlistEntry.objects.all()
    if q.status is not None:
        qs = qs.filter(status=q.status)
    if q.service is not None:
        qs = qs.filter(service=access_in_clinic(Service, q.service))
    if q.client is not None:
        qs = qs.filter(client=access_in_clinic(Client, q.client))
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit, updated_since=q.updated_since)
    return {"items": items, "next_cursor": cursor}


@endpoint(router.post, "/waitlist", scope=Scope.APPOINTMENTS_WRITE, response={201: WaitlistOut})
def waitlist_add(request: HttpRequest, body: WaitlistIn) -> Status[WaitlistEntry]:
    """Puts a client on the waitlist; a freed time is offered to them by email or SMS."""
    entry = waitlist_join(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=access_in_clinic(Client, body.client),
        service=access_in_clinic(Service, body.service),
        staff=access_in_clinic(StaffMember, body.staff) if body.staff else None,
        first_day=body.first_day,
        last_day=body.last_day,
    )
    return Status(201, entry)


@endpoint(
    router.post,
    "/waitlist/{entry_id}/withdraw",
    scope=Scope.APPOINTMENTS_WRITE,
    response=WaitlistOut,
)
def waitlist_withdraw(request: HttpRequest, entry_id: int) -> WaitlistEntry:
    """Takes the client off the list; an open offer passes to the next in line."""
    return online_waitlist_leave(entry=access_in_clinic(WaitlistEntry, entry_id))


@endpoint(
    router.put,
    "/appointments/{appointment_id}/note",
    scope=Scope.APPOINTMENTS_WRITE,
    response=AppointmentDetailOut,
)
def appointment_note(request: HttpRequest, appointment_id: uuid.UUID, body: NoteIn) -> Appointment:
    """Replaces the appointment's note (empty removes it)."""
    return _with_payment_status(
        desk.desk_note(appointment=access_in_clinic(Appointment, appointment_id), note=body.note)
    )


# --- Recurring series ------------------------------------------------------------------------


@endpoint(router.post, "/series", scope=Scope.APPOINTMENTS_WRITE, response={201: SeriesBooked})
def series_create(request: HttpRequest, body: SeriesIn) -> Status[dict[str, Any]]:
    """Every week (or every N weeks) at the same local time, for a count or until a date."""
    if (body.count is None) == (body.until is None):
        raise ApiError(422, "bad_recurrence", "Give either count or until.")
    try:
        series, booked = series_book(
            clinic=request.auth.clinic,  # type: ignore[attr-defined]
            service=access_in_clinic(Service, body.service),
            staff=access_in_clinic(StaffMember, body.staff),
            first_start=body.first_start,
            every_weeks=body.every_weeks,
            count=body.count,
            until=body.until,
            client=access_in_clinic(Client, body.client) if body.client else None,
            skip_conflicts=body.skip_conflicts,
        )
    except SlotTaken as exc:
        raise ApiError(
            409, "slot_taken", "Some dates are not free; send skip_conflicts to book the rest."
        ) from exc
    return Status(201, {"series": series, "appointments": booked})


@endpoint(router.get, "/series/{series_id}", scope=Scope.APPOINTMENTS_READ, response=SeriesOut)
def series_get(request: HttpRequest, series_id: int) -> RecurringSeries:
    return access_in_clinic(RecurringSeries, series_id)


@endpoint(
    router.post,
    "/series/{series_id}/cancel",
    scope=Scope.APPOINTMENTS_WRITE,
    response=SeriesCancelled,
)
def series_stop(request: HttpRequest, series_id: int, body: SeriesCancelIn) -> dict[str, int]:
    """Cancels one occurrence, or it and every later one still to come."""
    series = access_in_clinic(RecurringSeries, series_id)
    count = series_cancel(series=series, from_start=body.from_start, only_one=body.only_one)
    return {"cancelled": count}
