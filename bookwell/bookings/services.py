"""Booking, rescheduling, cancelling and status changes.

No double booking, guaranteed by the database: on PostgreSQL an exclusion constraint refuses
an overlapping appointment of the same staff member (or single-capacity room) even when two
requests race past the application's own check; on SQLite every transaction takes the write
lock when it begins (BEGIN IMMEDIATE, see settings), so the check and the insert cannot
interleave. The loser gets SlotTaken ("this time is no longer available"), never a 500.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.bookings.models import (
    BLOCKING,
    LONGEST_BLOCK,
    Appointment,
    OverrideReason,
    Source,
    Status,
    holds_time,
)
from bookwell.clients.models import Client
from bookwell.core.access import Hint, StaleHint
from bookwell.core.db.statements import Rider, fetch_batch, insert_statement
from bookwell.core.errors import Conflict, ServiceError
from bookwell.core.metrics import BOOKINGS
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.notifications.models import Kind
from bookwell.notifications.services import outbox_appointment
from bookwell.scheduling.models import Room, Service, StaffMember
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import usage_count
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Allowance, Clinic
from bookwell.tenancy.plans import PendingUse, plan_use_with


class SlotTaken(Conflict):
    code = "slot_taken"

    def __init__(self) -> None:
        super().__init__(_("This time is no longer available. Please choose another time."))


# Allowed status changes, in one place.
TRANSITIONS: dict[str, set[str]] = {
    # (A hold for an online payment becomes expired only through the hold job.)
    Status.PENDING: {Status.CONFIRMED, Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC},
    Status.CONFIRMED: {
        Status.CHECKED_IN,
        Status.NO_SHOW,
        Status.CANCELLED_BY_CLIENT,
        Status.CANCELLED_BY_CLINIC,
    },
    Status.CHECKED_IN: {Status.COMPLETED},
    Status.COMPLETED: set(),
    Status.NO_SHOW: set(),
    Status.CANCELLED_BY_CLIENT: set(),
    Status.CANCELLED_BY_CLINIC: set(),
    Status.EXPIRED: set(),
}


@dataclass(frozen=True)
class BookingRequest:
    service: Service
    staff: StaffMember
    start: dt.datetime
    client: Client | None = None
    room: Room | None = None
    source: str = Source.STAFF
    note: str = ""

    def fingerprint(self) -> str:
        """What makes two requests with one idempotency key "the same request"."""
        data = {
            "service": self.service.pk,
            "staff": self.staff.pk,
            "start": self.start.astimezone(dt.UTC).isoformat(),
            "client": str(self.client.pk) if self.client else None,
            "room": self.room.pk if self.room else None,
        }
        if self.note:  # (left out when empty: fingerprints made before notes counted hold)
            data["note"] = hashlib.sha256(self.note.encode()).hexdigest()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _block(service: Service, start: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    end = start + dt.timedelta(minutes=service.duration_min)
    return (
        end,
        start - dt.timedelta(minutes=service.buffer_before_min),
        end + dt.timedelta(minutes=service.buffer_after_min),
    )


def _overlapping(
    *,
    staff: StaffMember | None = None,
    room: Room | None = None,
    lo: dt.datetime,
    hi: dt.datetime,
    exclude: Appointment | None = None,
    share_key: str | None = None,
) -> bool:
    """Whether a live booking overlaps [lo, hi) for the staff member or the room. Rows with
    `share_key` (the seats of the same class) do not count: they share their time."""
    return _overlaps(
        staff=staff, room=room, lo=lo, hi=hi, exclude=exclude, share_key=share_key
    ).exists()


def _overlaps(
    *,
    staff: StaffMember | None = None,
    room: Room | None = None,
    lo: dt.datetime,
    hi: dt.datetime,
    exclude: Appointment | None = None,
    share_key: str | None = None,
) -> QuerySet[Appointment]:
    qs = Appointment.objects.filter(
        holds_time(timezone.now()),
        block_start__lt=hi,
        block_end__gt=lo,
        block_start__gt=lo - LONGEST_BLOCK,  # (the index reads this stretch, not all history)
    )
    if staff is not None:
        qs = qs.filter(staff=staff)
    if room is not None:
        qs = qs.filter(room=room)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if share_key:
        qs = qs.exclude(overlap_key=share_key)
    return qs


def _room_use(
    room: Room, lo: dt.datetime, hi: dt.datetime, share_key: str, exclude: Appointment | None
) -> int:
    """How many bookings use a shared room in [lo, hi): a class counts once, and the class
    this booking joins (`share_key`) is already counted by its first seat."""
    qs = Appointment.objects.filter(
        holds_time(timezone.now()),
        room=room,
        block_start__lt=hi,
        block_end__gt=lo,
        block_start__gt=lo - LONGEST_BLOCK,
    ).exclude(overlap_key=share_key)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    keys = set(qs.values_list("overlap_key", flat=True))
    return len(keys)


def _check_staff_time(
    *,
    service: Service,
    staff: StaffMember,
    start: dt.datetime,
    lo: dt.datetime,
    hi: dt.datetime,
    client: Client | None,
    exclude: Appointment | None = None,
) -> None:
    """Under the staff row lock: the staff member's time is free for this booking.

    A class (capacity above 1) takes seats until it is full; its seats share their time, so
    only other bookings count as overlaps. Anything else must overlap nothing.
    """
    if service.capacity <= 1:
        if _overlapping(staff=staff, lo=lo, hi=hi, exclude=exclude):
            raise SlotTaken()
        return
    seats = Appointment.objects.filter(
        holds_time(timezone.now()), service=service, staff=staff, start=start, group_seat=True
    )
    if exclude is not None:
        seats = seats.exclude(pk=exclude.pk)
    if client is not None and seats.filter(client=client).exists():
        raise Conflict(_("This client already has a seat in this class."), code="already_seated")
    if seats.count() >= service.capacity:
        raise SlotTaken()
    others = Appointment.objects.filter(
        holds_time(timezone.now()), staff=staff, block_start__lt=hi, block_end__gt=lo
    ).exclude(service=service, start=start, group_seat=True)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise SlotTaken()


def _validate(clinic: Clinic, req: BookingRequest) -> list[Room] | None:
    """Checks the request; returns the rooms the service may use (none: it needs no room).

    A booking that availability must offer (not the desk's) without a room asked for leaves
    two checks to it: availability reads only staff members who offer the service, and the
    service's free rooms; None says so. Should availability refuse, `_explain_refusal` says
    whether this was why."""
    _check_owned(clinic, req.service, req.staff, req.room, req.client)
    if timezone.is_naive(req.start):
        raise ServiceError(_("The start time needs a time zone."), code="naive_time")
    if req.service.archived or req.staff.archived or not req.staff.bookable:
        raise ServiceError(_("This service or staff member cannot be booked."), code="not_bookable")
    # The clinic's own tools (the desk, its API integrations) book any service.
    if req.source == Source.ONLINE and not req.service.online_bookable:
        raise ServiceError(_("This service is booked by the clinic only."), code="not_online")
    if req.client is not None and req.client.restricted:
        raise ServiceError(
            _("This client's record is restricted: no new bookings."), code="client_restricted"
        )
    if req.source != Source.STAFF and req.room is None:
        return None
    _check_offers(req)
    rooms = list(req.service.rooms.filter(archived=False).order_by("pk"))
    if req.room is not None and req.room not in rooms:
        raise ServiceError(_("This service cannot take place in that room."), code="wrong_room")
    return rooms


@functools.cache
def _release_sql(alias: str, with_room: bool) -> str:
    quote = connections[alias].ops.quote_name
    col = {f.name: quote(str(f.column)) for f in Appointment._meta.concrete_fields}
    where_room = f" OR ({col['room']} = %s AND {col['room_exclusive']})" if with_room else ""
    return (
        f"UPDATE {quote(Appointment._meta.db_table)} "  # noqa: S608 (names from the model)
        f"SET {col['status']} = %s, {col['updated_at']} = %s "
        f"WHERE {col['clinic']} = %s AND {col['status']} = %s AND {col['hold_until']} <= %s "
        f"AND {col['block_start']} < %s AND {col['block_end']} > %s "
        # Both bounds on the start (as availability's reads): the index on (clinic, staff or
        # room, block_start, block_end) then reads this stretch only, not every earlier
        # booking, and fetches only the rows whose end reaches the window.
        f"AND {col['block_start']} > %s "
        f"AND ({col['staff']} = %s{where_room}) AND {col['id']} <> %s"
    )


def _release_expired_holds(clinic: Clinic, new: Appointment) -> tuple[str, list[Any]]:
    """Marks expired the holds for online payments that ran out where the new booking goes
    (its staff member, or its room): availability already treats them as free, and the
    database's overlap guarantee must too. Goes in the INSERT's round trip, before it."""
    connection = connections[router.db_for_write(Appointment)]
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    sql = _release_sql(connection.alias, bool(new.room_id))
    params: list[Any] = [
        Status.EXPIRED.value,
        now,
        clinic.pk,
        Status.PENDING.value,
        now,
        ops.adapt_datetimefield_value(new.block_end),
        ops.adapt_datetimefield_value(new.block_start),
        ops.adapt_datetimefield_value(new.block_start - LONGEST_BLOCK),
        new.staff_id,
    ]
    if new.room_id:
        params.append(new.room_id)
    pk = Appointment._meta.pk
    assert pk is not None
    params.append(pk.get_db_prep_value(new.pk, connection))  # (a move: not the one moving)
    return sql, params


def _client_read(clinic: Clinic, client: Client | None) -> Rider | None:
    """The client's row, read again inside the booking's transaction and held (FOR SHARE on
    PostgreSQL; SQLite's transaction holds the write lock) to its commit: a restriction or an
    erasure that got in first is seen, one that comes later waits for the booking, and then
    finds it (an erasure anonymises it with the rest)."""
    if client is None:
        return None
    connection = connections[router.db_for_write(Client)]
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    quote = connection.ops.quote_name
    return Rider(
        f"SELECT {quote('restricted')} FROM {quote(Client._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('clinic_id')} = %s AND {quote('id')} = %s{lock}",
        [clinic.pk, Client._meta.pk.get_db_prep_value(client.pk, connection)],
    )


def _check_client_read(read: Rider | None) -> None:
    if read is None:
        return
    if not read.done:  # availability stopped before its round trip
        read.rows, read.done = (
            fetch_batch(router.db_for_write(Client), [(read.sql, read.params)])[0],
            True,
        )
    if not read.rows:
        raise Conflict(_("This client's record was erased."), code="client_erased")
    if read.rows[0][0]:
        raise ServiceError(
            _("This client's record is restricted: no new bookings."), code="client_restricted"
        )


def _check_offers(req: BookingRequest) -> None:
    if not req.service.staff.filter(pk=req.staff.pk).exists():
        raise ServiceError(_("This staff member does not offer this service."), code="wrong_staff")


def _overlap_key(
    service: Service, appointment_id: object, start: dt.datetime, staff_id: object = None
) -> str:
    """Rows with equal keys may share their time: the seats of one class. Anything else has its
    own key, so the exclusion constraint refuses any overlap with it."""
    if service.capacity > 1:
        # One teacher's class: two teachers of one service at one time are two classes.
        return f"class:{service.pk}:{staff_id}:{start.astimezone(dt.UTC).isoformat()}"
    return str(appointment_id)


def _offered(clinic: Clinic, request: BookingRequest, exclude: Appointment | None = None) -> bool:
    return _offered_rooms(clinic, request, exclude) is not None


def _offered_rooms(
    clinic: Clinic,
    request: BookingRequest,
    exclude: Appointment | None = None,
    *,
    lock_staff: bool = False,
    riders: Sequence[Rider] = (),
) -> set[int] | None:
    """The free rooms (at the right location) if availability offers this time; None if not.
    With `lock_staff`, the staff member's row is locked first, in the same round trip (and
    `riders`, reads of the caller's, go in it too)."""
    from bookwell.scheduling.selectors import availability

    start = request.start.astimezone(dt.UTC)
    slots = availability(
        clinic=clinic,
        service=request.service,
        first=(start - dt.timedelta(days=1)).date(),
        last=(start + dt.timedelta(days=1)).date(),
        staff_ids=[request.staff.pk],
        exclude_appointment=exclude,
        at=int(start.timestamp()),
        lock_staff=lock_staff,
        riders=riders,
    )
    stamp = int(start.timestamp())
    for s in slots:
        if s.start == stamp and str(request.staff.pk) in s.staff:
            return set(s.rooms)
    return None


def _rooms_where_staff_works(
    clinic: Clinic, request: BookingRequest, rooms: list[Room]
) -> list[Room]:
    """For staff bookings: rooms at the locations where the staff member works that day
    (hours or an override); all accepted rooms when that says nothing."""
    from bookwell.scheduling.models import DateOverride, WorkingHours

    local = request.start.astimezone(ZoneInfo(staff_time_zone(clinic, request.staff)))
    # A date override says where they work that day; otherwise the weekly hours do.
    places = set(
        DateOverride.objects.filter(staff=request.staff, date=local.date()).values_list(
            "location_id", flat=True
        )
    ) or set(
        WorkingHours.objects.filter(staff=request.staff, weekday=local.weekday()).values_list(
            "location_id", flat=True
        )
    )
    nearby = [r for r in rooms if r.location_id in places]
    return nearby or rooms


def _choose_room(
    req: BookingRequest,
    rooms: list[Room],
    lo: dt.datetime,
    hi: dt.datetime,
    share_key: str,
    exclude: Appointment | None = None,
) -> Room | None:
    """A room for [lo, hi): the requested one, else the room this class already uses, else the
    first accepted one with space. The candidate rooms are locked together in id order (no
    deadlock between two bookings), so two bookings cannot both take a last place."""
    if not rooms:
        return None
    candidates = [req.room] if req.room is not None else list(rooms)
    if share_key.startswith("class:"):
        used = set(
            Appointment.objects.filter(holds_time(timezone.now()), overlap_key=share_key)
            .exclude(room=None)
            .values_list("room_id", flat=True)
        )
        if used:
            candidates = [r for r in candidates if r.pk in used] or candidates
    list(
        Room.objects.select_for_update(no_key=True)  # (see _lock_staff_sql)
        .filter(pk__in=[r.pk for r in candidates])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for room in candidates:
        if room.capacity == 1:
            if not _overlapping(room=room, lo=lo, hi=hi, exclude=exclude, share_key=share_key):
                return room
            continue
        if _room_use(room, lo, hi, share_key, exclude) < room.capacity:
            return room
    raise SlotTaken()


@functools.cache
def _lock_staff_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(StaffMember._meta.db_table)
    # Identifiers come from the model and are quoted; the values are bound parameters.
    return (
        f"SELECT {quote('id')} FROM {table} "  # noqa: S608
        f"WHERE {quote('clinic_id')} = %s AND {quote('id')} = %s FOR NO KEY UPDATE"
    )  # NO KEY: a mutex among bookings that lets other transactions' foreign-key checks
    # (FOR KEY SHARE, at their commit) through; FOR UPDATE deadlocked with those under load.


def _lock_staff(clinic: Clinic, staff: StaffMember) -> None:
    """Locks the staff member's row until the transaction ends (PostgreSQL; SQLite's write
    transaction already excludes every other writer and has no FOR UPDATE)."""
    connection = connections[router.db_for_write(StaffMember)]
    if not connection.features.has_select_for_update:
        return
    with connection.cursor() as cursor:
        cursor.execute(_lock_staff_sql(connection.alias), [clinic.pk, staff.pk])


def staff_time_zone(clinic: Clinic, staff: StaffMember) -> str:
    """The wall clock of a staff member's days: their location's when they work in one time
    zone, else the clinic's."""
    from bookwell.scheduling.models import WorkingHours

    zones = set(
        WorkingHours.objects.filter(staff=staff).values_list("location__time_zone", flat=True)
    )
    return zones.pop() if len(zones) == 1 else clinic.time_zone


class StaffAway(Conflict):
    code = "staff_away"


def _check_not_away(
    clinic: Clinic, staff: StaffMember, start: dt.datetime, lo: dt.datetime, hi: dt.datetime
) -> None:
    """Nobody is booked into their time off or a day the clinic is closed (staff included:
    outside working hours is allowed at the desk, a holiday is not)."""
    from bookwell.scheduling.models import ClinicClosure, TimeOff

    if TimeOff.objects.filter(staff=staff, start__lt=hi, end__gt=lo).exists():
        raise StaffAway(
            _("%(name)s is away then.") % {"name": staff.display_name}, code="staff_away"
        )
    day = start.astimezone(ZoneInfo(staff_time_zone(clinic, staff))).date()
    if ClinicClosure.objects.filter(first_day__lte=day, last_day__gte=day).exists():
        raise StaffAway(_("The clinic is closed that day."), code="clinic_closed")


def _check_owned(clinic: Clinic, *objects: object) -> None:
    """Every object a booking refers to belongs to the clinic it is booked in (P1)."""
    for obj in objects:
        if obj is not None and getattr(obj, "clinic_id", clinic.pk) != clinic.pk:
            raise ServiceError(
                _("Something in this booking is not part of this clinic."), code="foreign_object"
            )


def _own_block(whole: bool) -> AbstractContextManager[Any]:
    """A booking's own block: a savepoint in its caller's transaction, or (`whole`) none,
    any failure then marking the caller's whole transaction for rollback, as an atomic
    block without a savepoint does. A stale hint marks nothing: it is raised before anything
    is written, and the caller starts over in the same transaction."""
    if not whole:
        return transaction.atomic()
    return _whole_or_nothing(router.db_for_write(Appointment))


@contextmanager
def _whole_or_nothing(alias: str) -> Iterator[None]:
    if not connections[alias].in_atomic_block:
        raise RuntimeError("a booking without a savepoint runs in its caller's transaction")
    try:
        yield
    except StaleHint:
        raise
    except BaseException:
        transaction.set_rollback(True, using=alias)
        raise


def appointment_book(
    *,
    clinic: Clinic,
    request: BookingRequest,
    actor: User | None = None,
    idempotency_key: str | None = None,
    notify: bool = True,
    hold_until: dt.datetime | None = None,
    count_also: Sequence[PendingUse] = (),
    hint: Hint | None = None,
    whole: bool = False,
) -> Appointment:
    """Books one appointment. The same idempotency key returns the same appointment; the same
    key with a different request is a conflict. The client's confirmation is recorded in the
    same transaction (notifications outbox) unless notify is off (demo data, imports).

    `count_also`: the caller's own uses (an API call's), counted in the booking's round trip
    when it is made (plan_use_with's `also`: only for a caller whose failure rolls back).

    With `hold_until` (a client paying online) the appointment is pending, holds its time
    until then, and nothing is sent: payments.services confirms it when the payment is in.

    `hint`: the request's service and staff member are the rows this process read before
    (core.access.hinted_in_clinic); they are read again in availability's round trip, and
    nothing is decided, written or refused before they are confirmed unchanged (StaleHint
    otherwise, with everything rolled back: the caller starts over from fresh rows). Only for
    what takes the lock in that round trip (a one-to-one service, booked by a client or an
    integration without an idempotency key), with no client or room to check against them.

    `whole`: the caller's transaction ends with this call's failure (an API operation's: its
    error answers roll back everything), so the booking opens no savepoint of its own. A
    savepoint made its row locks a subtransaction's, which PostgreSQL then tracks apart from
    the transaction's own (the foreign-key checks at commit lock those rows again): measured
    at 0.43 -> 0.46 of the bare-INSERT baseline (bench/api_load.py). With an idempotency key a
    savepoint is kept: a key taken meanwhile is looked up after a refused INSERT."""
    if hint is not None and (
        request.source == Source.STAFF
        or request.service.capacity != 1
        or idempotency_key
        or request.client is not None
        or request.room is not None
    ):
        # (Skips availability's round trip, or checks a client or room against the rows
        # before they are confirmed.)
        raise ValueError("a hint is confirmed in availability's round trip, before any check")
    fingerprint = request.fingerprint()
    if idempotency_key:
        earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.request_fingerprint != fingerprint:
                raise Conflict(
                    _("This idempotency key was used for a different request."),
                    code="idempotency_conflict",
                )
            return earlier
    rooms = _validate(clinic, request)
    end, lo, hi = _block(request.service, request.start)
    try:
        with _own_block(whole and not idempotency_key), ExitStack() as pinned:
            # Lock the staff row: concurrent bookings for one person queue here on PostgreSQL,
            # and the checks below see every committed booking (SQLite holds the write lock).
            # Online and API bookings of one-to-one services take the lock in availability's
            # round trip, right before its reads, with the clinic's data key read (and held
            # against rotation) in that round trip too; everything else takes both here (a
            # key is looked up again once the lock is held).
            lock_in_reads = (
                request.source != Source.STAFF
                and request.service.capacity == 1
                and not idempotency_key
            )
            key_read = keyring.active_key_rider(clinic.pk) if lock_in_reads else None
            if key_read is None:
                pinned.enter_context(keyring.pinned_active_key(clinic.pk))
            client_read = _client_read(clinic, request.client)
            if not lock_in_reads:
                _lock_staff(clinic, request.staff)
                _check_client_read(client_read)
            if idempotency_key:
                # The same key may have been committed while this request waited for the lock.
                earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
                if earlier is not None:
                    if earlier.request_fingerprint == fingerprint:
                        return earlier
                    raise Conflict(
                        _("This idempotency key was used for a different request."),
                        code="idempotency_conflict",
                    )

            def check_time() -> None:
                _check_staff_time(
                    service=request.service,
                    staff=request.staff,
                    start=request.start,
                    lo=lo,
                    hi=hi,
                    client=request.client,
                )
                _check_not_away(clinic, request.staff, request.start, lo, hi)

            if request.source == Source.STAFF or request.service.capacity > 1:
                check_time()  # (a class also refuses a client who already has a seat)
            if request.source != Source.STAFF:
                # Clients and integrations book only what availability offers (working hours,
                # notice, advance window), in a room at that location; staff may book outside
                # hours, in any room the service accepts.
                offered = _offered_rooms(
                    clinic,
                    request,
                    lock_staff=lock_in_reads,
                    riders=[
                        *(r for r in (key_read, client_read if lock_in_reads else None) if r),
                        *(hint.riders if hint is not None else ()),
                    ],
                )
                if hint is not None:
                    hint.check()  # before anything is made of what availability found
                if lock_in_reads:
                    _check_client_read(client_read)
                if offered is None:
                    # Availability has weighed the staff member, the other bookings, time off
                    # and closures already; the explicit checks only say which it was.
                    _check_offers(request)
                    check_time()
                    raise SlotTaken()
                if rooms is None:  # the service's free rooms here, as availability found them
                    rooms = (
                        list(Room.objects.filter(pk__in=offered).order_by("pk")) if offered else []
                    )
                elif rooms:
                    rooms = [r for r in rooms if r.pk in offered]
                    if not rooms:
                        raise SlotTaken()
            elif rooms and request.room is None:
                rooms = _rooms_where_staff_works(clinic, request, rooms)
            assert rooms is not None
            if request.room is not None and rooms and request.room not in rooms:
                raise SlotTaken()  # the room asked for is not free or not offered here
            if key_read is not None:
                pinned.enter_context(keyring.pinned_key_read(clinic.pk, key_read))
            new_id = uuid.uuid4()
            share_key = _overlap_key(request.service, new_id, request.start, request.staff.pk)
            room = _choose_room(request, rooms, lo, hi, share_key)
            appointment = Appointment(
                id=new_id,
                overlap_key=share_key,
                clinic=clinic,
                service=request.service,
                staff=request.staff,
                room=room,
                room_exclusive=room is not None and room.capacity == 1,
                group_seat=request.service.capacity > 1,
                client=request.client,
                start=request.start,
                end=end,
                block_start=lo,
                block_end=hi,
                status=Status.PENDING if hold_until else Status.CONFIRMED,
                hold_until=hold_until,
                source=request.source,
                idempotency_key=idempotency_key or None,
                request_fingerprint=fingerprint,
                note=request.note,
                created_by=actor,
                key_version=keyring.active_version(clinic.pk),
            )
            # No full_clean on this hot path: the objects are the validated ones above, and the
            # database checks the rest (order and block constraints, exclusion, idempotency).
            # One round trip: the row, the read of the clinic's webhook endpoints, then the
            # plan's allowance (P9; refused past it, and the booking with it) and the usage
            # count (P8), whose rows stay locked to the commit.
            appointment.check_clinic_writable()
            _used, (_released, _inserted, endpoints) = plan_use_with(
                clinic,
                Allowance.BOOKINGS_PER_MONTH,
                [
                    _release_expired_holds(clinic, appointment),
                    insert_statement(appointment),
                    webhooks.endpoints_statement(clinic.pk),
                ],
                feature=Feature.BOOKING_CREATED,
                also=count_also,
            )
            transaction.on_commit(BOOKINGS.labels(appointment.source).inc)
            if notify and hold_until is None and appointment.start > timezone.now():
                outbox_appointment(appointment=appointment, kind=Kind.CONFIRMATION)
            webhooks.emit_found(
                clinic.pk,
                WebhookEvent.APPOINTMENT_CREATED,
                [webhooks.appointment_data(appointment)],
                endpoints,
            )
    except IntegrityError as exc:
        # The database refused: the exclusion constraint (an overlap that raced past the
        # check), or the idempotency key taken a moment ago by the same request. Whatever
        # the caller's uses were counted in went back with the savepoint (or, `whole`, goes
        # back with the caller's transaction).
        for use in count_also:
            use.counted = False
        if idempotency_key:
            earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                if earlier.request_fingerprint == fingerprint:
                    return earlier
                raise Conflict(
                    _("This idempotency key was used for a different request."),
                    code="idempotency_conflict",
                ) from exc
        raise SlotTaken() from exc
    return appointment


def appointment_reschedule(
    *,
    clinic: Clinic,
    appointment: Appointment,
    start: dt.datetime,
    by_client: bool = False,
    override_reason: str | None = None,
    staff: StaffMember | None = None,
    room: Room | None = None,
) -> Appointment:
    """Moves an appointment to another start, and (staff only) to another staff member who
    offers the service or into a chosen room the service uses, with the same checks as a new
    booking."""
    override_reason = override_reason or None
    _check_owned(clinic, appointment, staff, room)
    if room is not None:
        if by_client:
            raise ServiceError(_("Only the clinic can choose the room."), code="wrong_room")
        if not appointment.service.rooms.filter(pk=room.pk, archived=False).exists():
            raise ServiceError(_("This service cannot take place in that room."), code="wrong_room")
    if appointment.status not in (Status.PENDING, Status.CONFIRMED):
        raise Conflict(_("Only upcoming appointments can be moved."), code="not_movable")
    _check_window(
        appointment, appointment.service.reschedule_notice_min, by_client, override_reason
    )
    if timezone.is_naive(start):
        raise ServiceError(_("The start time needs a time zone."), code="naive_time")
    old_staff = appointment.staff
    new_staff = staff if staff is not None else old_staff
    if new_staff.pk != old_staff.pk:
        if by_client:
            raise ServiceError(
                _("Only the clinic can give an appointment to someone else."), code="wrong_staff"
            )
        if new_staff.archived or not new_staff.bookable:
            raise ServiceError(
                _("This service or staff member cannot be booked."), code="not_bookable"
            )
        if not appointment.service.staff.filter(pk=new_staff.pk).exists():
            raise ServiceError(
                _("This staff member does not offer this service."), code="wrong_staff"
            )
    end, lo, hi = _block(appointment.service, start)
    try:
        with transaction.atomic():
            # Both staff rows, in id order (as every booking locks them): no deadlock.
            list(
                StaffMember.objects.select_for_update(no_key=True)
                .filter(pk__in={old_staff.pk, new_staff.pk})
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            _check_staff_time(
                service=appointment.service,
                staff=new_staff,
                start=start,
                lo=lo,
                hi=hi,
                client=appointment.client,
                exclude=appointment,
            )
            _check_not_away(clinic, new_staff, start, lo, hi)
            moved = BookingRequest(
                service=appointment.service,
                staff=new_staff,
                start=start,
                room=room,
                source=Source.ONLINE if by_client else Source.STAFF,
            )
            offered = _offered_rooms(clinic, moved, exclude=appointment) if by_client else None
            if by_client and offered is None:
                # A client moves only to a time availability offers (hours, notice, advance).
                raise SlotTaken()
            rooms = list(appointment.service.rooms.filter(archived=False).order_by("pk"))
            if rooms:
                if offered is not None:
                    rooms = [r for r in rooms if r.pk in offered]
                elif room is not None:
                    rooms = [room]  # the desk chose it: that room or none
                else:
                    rooms = _rooms_where_staff_works(clinic, moved, rooms)
                # Keep the room it has when that still has space.
                rooms.sort(key=lambda r: r.pk != appointment.room_id)
                share_key = _overlap_key(appointment.service, appointment.pk, start, new_staff.pk)
                appointment.room = _choose_room(
                    moved, rooms, lo, hi, share_key, exclude=appointment
                )
                appointment.room_exclusive = appointment.room.capacity == 1  # type: ignore[union-attr]
            freed_at = appointment.start
            appointment.block_start, appointment.block_end = lo, hi
            appointment.staff = new_staff
            appointment.overlap_key = _overlap_key(
                appointment.service, appointment.pk, start, new_staff.pk
            )
            fields = [
                "staff",
                "start",
                "end",
                "block_start",
                "block_end",
                "overlap_key",
                "room",
                "room_exclusive",
                "updated_at",
            ]
            if by_client and override_reason:
                appointment.override_reason = override_reason
                fields.append("override_reason")
            appointment.start, appointment.end = start, end
            appointment.sequence += 1
            fields.append("sequence")
            # Holds that ran out where it goes are free (availability says so): the database's
            # overlap guarantee must agree before the move is written.
            release, release_params = _release_expired_holds(clinic, appointment)
            with connections[router.db_for_write(Appointment)].cursor() as cursor:
                cursor.execute(release, release_params)
            appointment.save(update_fields=fields)
            outbox_appointment(appointment=appointment, kind=Kind.RESCHEDULE)
            webhooks.emit(
                clinic,
                WebhookEvent.APPOINTMENT_RESCHEDULED,
                webhooks.appointment_data(appointment),
            )
            usage_count(Feature.BOOKING_RESCHEDULED, clinic_id=clinic.pk)
            if freed_at > timezone.now():
                # The time it leaves goes to the first client waiting for it.
                from bookwell.bookings.waitlist import waitlist_offer_freed

                waitlist_offer_freed(
                    clinic=clinic,
                    service=appointment.service,
                    staff=old_staff,
                    start=freed_at,
                )
    except IntegrityError as exc:
        raise SlotTaken() from exc
    return appointment


def _check_window(
    appointment: Appointment, notice_min: int, by_client: bool, override_reason: str | None
) -> None:
    override_reason = override_reason or None  # an empty choice is no reason
    if not by_client:
        return
    if override_reason is not None:
        # Staff acting for the client inside the window: allowed, with a category (no text).
        if override_reason not in OverrideReason.values:
            raise ServiceError(_("Choose a reason for the exception."), code="bad_override_reason")
        return
    if appointment.start - timezone.now() < dt.timedelta(minutes=notice_min):
        raise Conflict(
            _("It is too late to change this appointment online. Please call the clinic."),
            code="too_late",
        )


def appointment_set_status(
    *,
    appointment: Appointment,
    status: str,
    by_client: bool = False,
    override_reason: str | None = None,
    notify: bool = True,
) -> Appointment:
    override_reason = override_reason or None
    if status not in Status.values:
        raise Conflict(_("Unknown status."), code="bad_status")
    if status not in TRANSITIONS.get(appointment.status, set()):
        raise Conflict(
            _("An appointment that is %(now)s cannot become %(next)s.")
            % {
                "now": appointment.get_status_display().lower(),
                "next": str(Status(status).label).lower(),
            },
            code="bad_transition",
        )
    if status == Status.CANCELLED_BY_CLIENT:
        _check_window(
            appointment, appointment.service.cancel_notice_min, by_client, override_reason
        )
    with transaction.atomic():
        changes: dict[str, object] = {"status": status, "updated_at": timezone.now()}
        if status in BLOCKING and status != Status.PENDING:
            # A time held for a payment that is confirmed by hand is no hold any more: it must
            # not become free when the hold would have run out. (A cancelled one keeps the
            # mark: retention deletes unpaid holds by it.)
            changes["hold_until"] = None
        if by_client and override_reason:
            changes["override_reason"] = override_reason
        updated = Appointment.objects.filter(pk=appointment.pk, status=appointment.status).update(
            **changes
        )
        if updated != 1:
            raise Conflict(
                _("The appointment changed meanwhile. Reload and try again."), code="stale"
            )
        appointment.status = status
        appointment.updated_at = changes["updated_at"]  # type: ignore[assignment]
        cancelled = status in (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)
        webhooks.emit(
            appointment.clinic_id,
            WebhookEvent.APPOINTMENT_CANCELLED
            if cancelled
            else WebhookEvent.APPOINTMENT_STATUS_CHANGED,
            webhooks.appointment_data(appointment),
        )
        if (
            notify
            and status in (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)
            and appointment.start > timezone.now()
        ):
            outbox_appointment(appointment=appointment, kind=Kind.CANCELLATION)
        if cancelled or status == Status.NO_SHOW:
            # What was paid online: back, or partly kept, by the clinic's policy (issue 10).
            from bookwell.payments.services import settle_cancellation

            settle_cancellation(
                appointment=appointment,
                by_client=status == Status.CANCELLED_BY_CLIENT and notify,
                no_show=status == Status.NO_SHOW,
            )
    return appointment


def appointment_cancel(
    *,
    appointment: Appointment,
    by_client: bool,
    override_reason: str | None = None,
    for_erasure: bool = False,
) -> Appointment:
    """Cancels; the freed time goes to the first client waiting for it (waitlist). For an
    erasure (the client's own request, carried out by the clinic): no notice window, and no
    message to the client, whose contact details are about to go."""
    from bookwell.bookings.waitlist import waitlist_offer_freed

    status = Status.CANCELLED_BY_CLIENT if by_client or for_erasure else Status.CANCELLED_BY_CLINIC
    with transaction.atomic():
        appointment_set_status(
            appointment=appointment,
            status=status,
            by_client=by_client,
            override_reason=override_reason,
            notify=not for_erasure,
        )
        if appointment.start > timezone.now():
            waitlist_offer_freed(
                clinic=appointment.clinic,
                service=appointment.service,
                staff=appointment.staff,
                start=appointment.start,
            )
        usage_count(Feature.BOOKING_CANCELLED, clinic_id=appointment.clinic_id)
    return appointment


def appointment_book_any_staff(
    *,
    clinic: Clinic,
    service: Service,
    start: dt.datetime,
    client: Client | None = None,
    source: str = Source.ONLINE,
    actor: User | None = None,
    idempotency_key: str | None = None,
    hold_until: dt.datetime | None = None,
) -> Appointment:
    """ "No preference": books whoever is free then, chosen by the service's policy.

    Least booked: the one with the fewest appointments that (clinic-local) day. Round robin: the one
    given this service longest ago (never first). Ties go to the lower id. If the chosen one
    is taken by a racing booking, the next is tried.
    """
    from bookwell.scheduling.models import AssignmentPolicy
    from bookwell.scheduling.selectors import availability

    if timezone.is_naive(start):
        raise ServiceError(_("The start time needs a time zone."), code="naive_time")
    if idempotency_key:
        # A retry returns what the first try booked, whoever was chosen then.
        earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            same = (
                earlier.service_id == service.pk
                and earlier.start == start
                and earlier.client_id == (client.pk if client else None)
            )
            if not same:
                raise Conflict(
                    _("This idempotency key was used for a different request."),
                    code="idempotency_conflict",
                )
            return earlier
    moment = start.astimezone(dt.UTC)
    stamp = int(moment.timestamp())
    slots = availability(
        clinic=clinic,
        service=service,
        first=(moment - dt.timedelta(days=1)).date(),
        last=(moment + dt.timedelta(days=1)).date(),
    )
    free = next(([int(i) for i in s.staff] for s in slots if s.start == stamp), [])
    if not free:
        raise SlotTaken()
    if service.assignment_policy == AssignmentPolicy.ROUND_ROBIN:
        last_given = dict(
            Appointment.objects.filter(service=service, staff_id__in=free)
            .values("staff_id")
            .annotate(last=Max("created_at"))
            .values_list("staff_id", "last")
        )
        floor = dt.datetime.min.replace(tzinfo=dt.UTC)
        order = sorted(free, key=lambda pk: (last_given.get(pk) or floor, pk))
    else:
        local = moment.astimezone(ZoneInfo(clinic.time_zone))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        counts = dict(
            Appointment.objects.filter(
                staff_id__in=free,
                status__in=BLOCKING,
                start__gte=day,
                start__lt=day + dt.timedelta(days=1),
            )
            .values("staff_id")
            .annotate(n=Count("pk"))
            .values_list("staff_id", "n")
        )
        order = sorted(free, key=lambda pk: (counts.get(pk, 0), pk))
    staff_by_pk = StaffMember.objects.in_bulk(order)
    for pk in order:
        if idempotency_key:
            # A retry racing the first try: what the first try booked, whoever was chosen.
            earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                if (earlier.service_id, earlier.start, earlier.client_id) == (
                    service.pk,
                    start,
                    client.pk if client else None,
                ):
                    return earlier
                raise Conflict(
                    _("This idempotency key was used for a different request."),
                    code="idempotency_conflict",
                )
        try:
            return appointment_book(
                clinic=clinic,
                request=BookingRequest(
                    service=service,
                    staff=staff_by_pk[pk],
                    start=start,
                    client=client,
                    source=source,
                ),
                actor=actor,
                idempotency_key=idempotency_key,
                hold_until=hold_until,
            )
        except SlotTaken:
            continue
        except Conflict as exc:
            if exc.code != "idempotency_conflict":
                raise
            # The same key won a moment ago (with whoever was free then): a retry or a clash.
            earlier = Appointment.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None and (earlier.service_id, earlier.start, earlier.client_id) == (
                service.pk,
                start,
                client.pk if client else None,
            ):
                return earlier
            raise
    raise SlotTaken()
