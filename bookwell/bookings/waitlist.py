"""The waitlist: when a matching time frees up, the first client in line gets an offer that
expires after the clinic's set time and then passes to the next. (Sending the offer is the
notifications issue's; here, the records and the services that create and accept them.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.bookings.models import (
    Appointment,
    OfferStatus,
    Source,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.clients.models import Client
from bookwell.core.errors import Conflict, Gone, ServiceError
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.notifications.services import outbox_waitlist_offer
from bookwell.scheduling.models import Service, StaffMember
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.plans import PlanLimitReached


def waitlist_join(
    *,
    clinic: Clinic,
    client: Client,
    service: Service,
    first_day: dt.date,
    last_day: dt.date,
    staff: StaffMember | None = None,
) -> WaitlistEntry:
    from bookwell.bookings.services import _check_owned

    _check_owned(clinic, client, service, staff)
    if first_day > last_day:
        raise ServiceError(_("The first day must not be after the last."), code="bad_range")
    with transaction.atomic():
        # The client's row, read again and locked: a restriction or an erasure that landed
        # after the caller read it is seen (and one that comes later waits for this).
        current = Client.objects.select_for_update().filter(pk=client.pk).first()
        if current is None:
            raise Conflict(_("This client's record was erased."), code="client_erased")
        if current.restricted:
            raise ServiceError(_("This client's record is restricted."), code="client_restricted")
        entry = WaitlistEntry(
            clinic=clinic,
            client=current,
            service=service,
            staff=staff,
            first_day=first_day,
            last_day=last_day,
        )
        entry.full_clean()
        entry.save()
    return entry


def _still_offered(
    clinic: Clinic, service: Service, staff: StaffMember, start: dt.datetime
) -> bool:
    """The time is still one a client could book online (hours, notice, advance, free)."""
    from bookwell.bookings.services import _offered

    return _offered(
        clinic, BookingRequest(service=service, staff=staff, start=start, source=Source.ONLINE)
    )


def waitlist_offer_freed(
    *, clinic: Clinic, service: Service, staff: StaffMember, start: dt.datetime
) -> WaitlistOffer | None:
    """Offers a freed time to the first matching client in line who has not had it yet.

    Only a time a client could still book is offered, and the offer closes no later than the
    service's minimum notice before it (a past time is never offered)."""
    notice = dt.timedelta(minutes=service.min_notice_min)
    closes = min(
        timezone.now() + dt.timedelta(minutes=clinic.waitlist_offer_minutes), start - notice
    )
    if closes <= timezone.now() or not _still_offered(clinic, service, staff, start):
        return None
    day = start.astimezone(ZoneInfo(_local_zone(clinic, staff, start))).date()
    already = WaitlistOffer.objects.filter(start=start, staff=staff).values("entry_id")
    line = (
        WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            service=service,
            status=WaitlistStatus.WAITING,
            client__restricted=False,  # P17: a restricted client is offered nothing
            first_day__lte=day,
            last_day__gte=day,
        )
        .filter(Q(staff__isnull=True) | Q(staff=staff))
        .exclude(pk__in=already)
        .order_by("created_at", "pk")
    )
    entry = line.first()
    if entry is None:
        return None
    offer = WaitlistOffer.objects.create(
        clinic=clinic, entry=entry, staff=staff, start=start, expires_at=closes
    )
    outbox_waitlist_offer(offer=offer)
    entry.status = WaitlistStatus.OFFERED
    entry.save(update_fields=["status"])
    return offer


def _local_zone(clinic: Clinic, staff: StaffMember, start: dt.datetime) -> str:
    from bookwell.bookings.services import staff_time_zone

    return staff_time_zone(clinic, staff)


def waitlist_accept(*, clinic: Clinic, offer: WaitlistOffer) -> Appointment:
    """Books the offered time for the waiting client. If the time was taken meanwhile, the
    offer closes, the client keeps waiting, and the caller gets a clear conflict."""
    with transaction.atomic():
        offer = WaitlistOffer.objects.select_for_update().select_related("entry").get(pk=offer.pk)
        if offer.status != OfferStatus.OPEN:
            raise Gone(_("This offer is no longer open."), code="offer_closed")
        if offer.expires_at <= timezone.now() or offer.start <= timezone.now():
            raise Gone(_("This offer has expired."), code="offer_expired")
        entry = offer.entry
        if entry.status not in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
            raise Gone(_("This waitlist place is closed."), code="entry_closed")
        appointment: Appointment | None
        try:
            if not _still_offered(clinic, entry.service, offer.staff, offer.start):
                raise SlotTaken()  # taken, or the hours, notice or time off changed meanwhile
            with transaction.atomic():
                appointment = appointment_book(
                    clinic=clinic,
                    request=BookingRequest(
                        service=entry.service,
                        staff=offer.staff,
                        start=offer.start,
                        client=entry.client,
                        source=Source.STAFF,  # checked just above like an online booking
                    ),
                )
        except PlanLimitReached:
            raise  # the time is still there; the clinic's plan is full: the offer stays open
        except ServiceError:  # taken, away, or no longer bookable: the offer closes
            appointment = None
        if appointment is None:
            offer.status = OfferStatus.EXPIRED
            entry.status = WaitlistStatus.WAITING
        else:
            offer.status, offer.appointment = OfferStatus.ACCEPTED, appointment
            entry.status = WaitlistStatus.BOOKED
            webhooks.emit(
                clinic,
                WebhookEvent.WAITLIST_OFFER_ACCEPTED,
                {
                    "waitlist_entry_id": entry.pk,
                    "offer_id": offer.pk,
                    "appointment_id": str(appointment.pk),
                    "client_id": str(entry.client_id),
                    "start": offer.start.astimezone(dt.UTC).isoformat(),
                },
            )
        offer.save(update_fields=["status", "appointment"])
        entry.save(update_fields=["status"])
    if appointment is None:
        raise Conflict(_("Sorry, this time was taken meanwhile."), code="slot_taken")
    return appointment


def waitlist_expire_offers(*, clinic: Clinic) -> int:
    """Closes expired offers and passes each time to the next client in line."""
    expired = 0
    with transaction.atomic():
        due = list(
            WaitlistOffer.objects.select_for_update()
            .select_related("entry", "entry__service", "staff")
            .filter(status=OfferStatus.OPEN, expires_at__lte=timezone.now())
        )
        for offer in due:
            offer.status = OfferStatus.EXPIRED
            offer.save(update_fields=["status"])
            entry = offer.entry
            entry.status = WaitlistStatus.WAITING  # still waiting for another time
            entry.save(update_fields=["status"])
            waitlist_offer_freed(
                clinic=clinic, service=entry.service, staff=offer.staff, start=offer.start
            )
            expired += 1
    return expired
