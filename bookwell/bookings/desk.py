"""Front-desk writes on top of the booking services: a walk-in with a quick-created client,
a cancellation with its reason category, the appointment's note. Same checks as everywhere:
these call the booking services, never around them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.bookings.models import Appointment, CancelReason, OverrideReason, Source, Status
from bookwell.bookings.services import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
)
from bookwell.clients.models import Client
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.errors import ServiceError
from bookwell.scheduling.models import Room, Service, ServiceStaff, StaffMember
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic

MAX_NOTE = 2000


def local_moment(day: dt.date, time: dt.time, time_zone: str) -> dt.datetime:
    """An aware moment from a local date and time; a time the clocks skip is refused."""
    zone = ZoneInfo(time_zone)
    naive = dt.datetime.combine(day, time)
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(
            {"time": [_("This time does not exist on that day (the clocks change).")]}
        )
    return moment


def check_performs(service: Service, staff: StaffMember) -> None:
    if not ServiceStaff.objects.filter(service=service, staff=staff).exists():
        raise ValidationError(
            {
                "service": [
                    _("%(name)s does not perform this service.") % {"name": staff.display_name}
                ]
            }
        )


def desk_book(
    *,
    clinic: Clinic,
    actor: User | None,
    service: Service,
    staff: StaffMember,
    start: dt.datetime,
    client: Client | None,
    new_client: ClientInput | None = None,
    note: str = "",
    room: Room | None = None,
) -> Appointment:
    """Books for the front desk (outside working hours allowed, as staff may); a new client
    is created in the same transaction, so a lost time leaves no stray record."""
    check_performs(service, staff)
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [_("Keep the note under 2000 characters.")]})
    with transaction.atomic():
        if client is None and new_client is not None:
            client = client_create(clinic=clinic, data=new_client, actor=actor)
        if client is not None and client.restricted:
            raise ServiceError(
                _("This client's record is restricted: no new appointments."),
                code="client_restricted",
            )
        return appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=service,
                staff=staff,
                start=start,
                client=client,
                room=room,
                source=Source.STAFF,
                note=note,
            ),
            actor=actor,
        )


def desk_cancel(
    *,
    appointment: Appointment,
    for_client: bool,
    reason: str,
    override_reason: str | None = None,
) -> Appointment:
    """Cancels with a reason category. On the client's behalf inside their notice window an
    override reason is required (the booking service enforces it)."""
    if reason not in CancelReason.values:
        raise ValidationError({"reason": [_("Choose a reason.")]})
    if override_reason in ("", None):
        override_reason = None
    elif override_reason not in OverrideReason.values:
        raise ValidationError({"override_reason": [_("Choose a reason for the exception.")]})
    with transaction.atomic():
        appointment.cancel_reason = reason  # (also told in the webhook event)
        appointment_cancel(
            appointment=appointment, by_client=for_client, override_reason=override_reason
        )
        Appointment.objects.filter(pk=appointment.pk).update(cancel_reason=reason)
        appointment.cancel_reason = reason
    return appointment


def desk_note(*, appointment: Appointment, note: str) -> Appointment:
    """Replaces the appointment's note (encrypted at rest, P14)."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [_("Keep the note under 2000 characters.")]})
    with keyring.pinned_active_key(appointment.clinic_id):
        appointment.note = note
        appointment.key_version = keyring.active_version(appointment.clinic_id)
        appointment.save(update_fields=["note", "key_version", "updated_at"])
    return appointment


ACTIVE = (Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN)
