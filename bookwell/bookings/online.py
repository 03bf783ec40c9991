"""What clients do on the public booking page: book, join the waitlist, and, through their
manage link, cancel, reschedule and accept a waitlist offer.

Every write runs in one transaction: a booking that loses its time leaves no client record
behind. Consent is checked here, not in the form (P18): without it, nothing is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.bookings import manage_links
from bookwell.bookings.models import (
    Appointment,
    OfferStatus,
    Source,
    Status,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from bookwell.bookings.services import (
    BookingRequest,
    appointment_book,
    appointment_book_any_staff,
    appointment_cancel,
    appointment_reschedule,
)
from bookwell.bookings.waitlist import waitlist_accept, waitlist_join, waitlist_offer_freed
from bookwell.clients import blind
from bookwell.clients.models import Client, ConsentMethod, IndexKind, NameKind, PrivacyNotice
from bookwell.clients.services import (
    ClientInput,
    client_clean,
    client_create,
    consent_record,
    privacy_notice_current,
)
from bookwell.core.errors import Conflict, ServiceError
from bookwell.scheduling.models import Service, StaffMember
from bookwell.tenancy.models import BookingContact, Clinic

if TYPE_CHECKING:
    from bookwell.payments.models import Payment


class OnlineBookingClosed(ServiceError):
    code = "online_booking_closed"

    def __init__(self) -> None:
        super().__init__(_("This clinic does not take online bookings at the moment."))


@dataclass(frozen=True)
class ContactDetails:
    full_name: str
    email: str = ""
    phone: str = ""
    preferred_language: str = "en"
    pseudonym: bool = False


def _require_open(clinic: Clinic, service: Service) -> None:
    if not clinic.online_booking or not service.online_bookable or service.archived:
        raise OnlineBookingClosed()


def _check_contact(clinic: Clinic, contact: ContactDetails) -> None:
    """The contact details the clinic asks for (the client's own choice beyond that)."""
    errors: dict[str, list[str]] = {}
    email, phone = contact.email.strip(), contact.phone.strip()
    rule = clinic.booking_contact
    if rule in (BookingContact.EMAIL, BookingContact.BOTH) and not email:
        errors["email"] = [_("Enter your email address.")]
    if rule in (BookingContact.PHONE, BookingContact.BOTH) and not phone:
        errors["phone"] = [_("Enter your phone number.")]
    if rule == BookingContact.EITHER and not email and not phone:
        errors["email"] = [_("Enter an email address or a phone number.")]
    if errors:
        raise ValidationError(errors)


def _check_consent(clinic: Clinic, notice_id: int | None, consent: bool) -> PrivacyNotice | None:
    """The notice the client accepted, checked against the current one (P18, P22)."""
    current = privacy_notice_current(clinic=clinic)
    if not clinic.require_consent:
        return current if consent and current and current.pk == notice_id else None
    if current is None:
        # The settings page refuses this state; fail closed if it happens anyway.
        raise OnlineBookingClosed()
    if not consent:
        raise ValidationError({"consent": [_("Please accept the privacy notice to book.")]})
    if notice_id != current.pk:
        raise ValidationError(
            {"consent": [_("The privacy notice has changed. Please read it and accept it again.")]}
        )
    return current


def _client_for(clinic: Clinic, contact: ContactDetails) -> Client:
    """The client record for these details: an existing one with the same email address (or,
    without one, phone number), else a new one. An existing record is never changed here, and
    nothing tells the visitor whether one existed."""
    data = ClientInput(
        full_name=contact.full_name,
        email=contact.email,
        phone=contact.phone,
        preferred_language=contact.preferred_language,
        name_kind=NameKind.PSEUDONYM if contact.pseudonym else NameKind.FULL,
    )
    clean = client_clean(clinic=clinic, data=data)
    if clean.errors:
        raise ValidationError(clean.errors)
    for kind, value in ((IndexKind.EMAIL, clean.email), (IndexKind.PHONE, clean.phone)):
        if not value:
            continue
        entry = (
            blind.matching_entries(clinic_id=clinic.pk, kind=kind, value=value)
            .order_by("client__created_at")
            .values_list("client_id", flat=True)
            .first()
        )
        if entry is not None:
            client = Client.objects.get(pk=entry)
            if client.restricted:
                # P17: a restricted record takes no new processing; say only what to do.
                raise ServiceError(
                    _("We could not complete this booking online. Please contact the clinic."),
                    code="contact_clinic",
                )
            return client
    return client_create(clinic=clinic, data=data)


def online_book(
    *,
    clinic: Clinic,
    service: Service,
    staff: StaffMember | None,
    start: dt.datetime,
    contact: ContactDetails,
    consent: bool,
    notice_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[Appointment, str, Payment | None]:
    """Books from the public page; returns the appointment, its manage-link token and, where
    the service is paid online, its pending payment (the time is then held until the client
    has paid, and nothing is sent before)."""
    from bookwell.payments.models import Payment
    from bookwell.payments.services import amount_due, payment_hold

    _require_open(clinic, service)
    _check_contact(clinic, contact)
    due = amount_due(clinic, service)
    hold_until = timezone.now() + dt.timedelta(minutes=due.hold_minutes) if due else None
    with transaction.atomic():
        notice = _check_consent(clinic, notice_id, consent)
        client = _client_for(clinic, contact)
        if staff is None:
            appointment = appointment_book_any_staff(
                clinic=clinic,
                service=service,
                start=start,
                client=client,
                source=Source.ONLINE,
                idempotency_key=idempotency_key,
                hold_until=hold_until,
            )
        else:
            appointment = appointment_book(
                clinic=clinic,
                request=BookingRequest(
                    service=service, staff=staff, start=start, client=client, source=Source.ONLINE
                ),
                idempotency_key=idempotency_key,
                hold_until=hold_until,
            )
        payment = None
        if due is not None and appointment.status in (Status.PENDING, Status.EXPIRED):
            # The same form sent again finds the payment made the first time (and, once its
            # hold has gone, the page that says so).
            payment = Payment.objects.filter(appointment=appointment).order_by(
                "-created_at"
            ).first() or (
                payment_hold(clinic=clinic, appointment=appointment, due=due)
                if appointment.status == Status.PENDING
                else None
            )
        # The same form sent twice (a double tap, back and send again) gets the booking made
        # the first time: its link stays the one already shown and sent, and consent was
        # recorded then.
        token = manage_links.token_for(appointment)
        if not token:
            if notice is not None:
                consent_record(
                    clinic=clinic, client=client, notice=notice, method=ConsentMethod.ONLINE
                )
            token = manage_links.issue(appointment)
    return appointment, token, payment


def online_waitlist_join(
    *,
    clinic: Clinic,
    service: Service,
    staff: StaffMember | None,
    first_day: dt.date,
    last_day: dt.date,
    contact: ContactDetails,
    consent: bool,
    notice_id: int | None,
) -> tuple[WaitlistEntry, str]:
    _require_open(clinic, service)
    _check_contact(clinic, contact)
    if (last_day - first_day).days > 92:
        raise ValidationError({"last_day": [_("Choose a range of at most three months.")]})
    with transaction.atomic():
        notice = _check_consent(clinic, notice_id, consent)
        client = _client_for(clinic, contact)
        if notice is not None:
            consent_record(clinic=clinic, client=client, notice=notice, method=ConsentMethod.ONLINE)
        entry = waitlist_join(
            clinic=clinic,
            client=client,
            service=service,
            staff=staff,
            first_day=first_day,
            last_day=last_day,
        )
        token = manage_links.issue(entry)
    return entry, token


def online_cancel(*, appointment: Appointment) -> Appointment:
    """The client cancels through the manage link, inside the clinic's window only."""
    if not manage_links.is_upcoming(appointment):
        raise Conflict(
            _("This appointment can no longer be cancelled online."), code="not_upcoming"
        )
    return appointment_cancel(appointment=appointment, by_client=True)


def online_reschedule(*, appointment: Appointment, start: dt.datetime) -> Appointment:
    """The client moves to a time the engine offers (same service and staff member)."""
    if not manage_links.is_upcoming(appointment):
        raise Conflict(_("This appointment can no longer be moved online."), code="not_upcoming")
    return appointment_reschedule(
        clinic=appointment.clinic, appointment=appointment, start=start, by_client=True
    )


def online_offer_accept(*, entry: WaitlistEntry, offer: WaitlistOffer) -> tuple[Appointment, str]:
    """Accepts an offer made to this waitlist entry; the booking gets its own manage link."""
    if offer.entry_id != entry.pk:
        raise Conflict(_("This offer is not for this waitlist place."), code="wrong_offer")
    # Not one transaction: when the time was taken meanwhile, waitlist_accept commits the
    # closed offer (the client keeps waiting) and then raises.
    appointment = waitlist_accept(clinic=entry.clinic, offer=offer)
    return appointment, manage_links.issue(appointment)


def online_waitlist_leave(*, entry: WaitlistEntry) -> WaitlistEntry:
    """The client leaves the list; an open offer passes at once to the next in line."""
    if entry.status not in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
        return entry
    with transaction.atomic():
        offers = list(
            WaitlistOffer.objects.select_for_update()
            .select_related("staff")
            .filter(entry=entry, status=OfferStatus.OPEN)
        )
        for offer in offers:
            offer.status = OfferStatus.EXPIRED
            offer.save(update_fields=["status"])
        entry.status = WaitlistStatus.WITHDRAWN
        entry.save(update_fields=["status"])
        for offer in offers:
            waitlist_offer_freed(
                clinic=entry.clinic, service=entry.service, staff=offer.staff, start=offer.start
            )
    return entry
