"""Waitlist: a freed time goes to the first in line, expires, and passes to the next."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bookwell.bookings.models import Appointment, OfferStatus, WaitlistOffer, WaitlistStatus
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_cancel
from bookwell.bookings.waitlist import waitlist_accept, waitlist_expire_offers, waitlist_join
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.core.errors import Gone
from bookwell.scheduling.models import TimeOff, WorkingHours
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db
START = dt.datetime(2031, 6, 1, 8, 0, tzinfo=dt.UTC)
SLOT = dt.datetime(2031, 6, 4, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def line(clinic_a, clock):
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.waitlist_offer_minutes = 60
    clinic_a.save()
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        for weekday in range(7):  # offers are made only for times a client could book
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=setup.staff,
                location=setup.location,
                weekday=weekday,
                start_min=8 * 60,
                end_min=18 * 60,
            )
        holder = client_create(clinic=clinic_a, data=ClientInput(full_name="Has The Slot"))
        booked = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=SLOT, client=holder
            ),
        )
        first = client_create(clinic=clinic_a, data=ClientInput(full_name="First In Line"))
        second = client_create(clinic=clinic_a, data=ClientInput(full_name="Second In Line"))
        day = SLOT.date()
        waitlist_join(
            clinic=clinic_a, client=first, service=setup.service, first_day=day, last_day=day
        )
        clock.shift(dt.timedelta(seconds=5))
        waitlist_join(
            clinic=clinic_a,
            client=second,
            service=setup.service,
            first_day=day,
            last_day=day,
            staff=setup.staff,
        )
    return setup, booked, first, second


def test_a_cancellation_offers_the_time_to_the_first_in_line_who_can_accept(clinic_a, line):
    _, booked, first, _ = line
    with clinic_context(clinic_a):
        appointment_cancel(appointment=booked, by_client=True)
        offer = WaitlistOffer.objects.get()
        assert offer.entry.client == first and offer.start == SLOT
        assert offer.expires_at == offer.created_at + dt.timedelta(minutes=60)
        appointment = waitlist_accept(clinic=clinic_a, offer=offer)
        assert appointment.client == first and appointment.start == SLOT
        offer.refresh_from_db()
        assert offer.status == OfferStatus.ACCEPTED and offer.entry.status == WaitlistStatus.BOOKED


def test_an_expired_offer_passes_to_the_next_in_line(clinic_a, line, clock):
    _, booked, first, second = line
    with clinic_context(clinic_a):
        appointment_cancel(appointment=booked, by_client=False)
        offer = WaitlistOffer.objects.get()
        clock.shift(dt.timedelta(minutes=61))
        with pytest.raises(Gone, match="expired"):
            waitlist_accept(clinic=clinic_a, offer=offer)
        assert waitlist_expire_offers(clinic=clinic_a) == 1
        offers = list(WaitlistOffer.objects.order_by("created_at", "pk"))
        assert [o.entry.client for o in offers] == [first, second]
        assert [o.status for o in offers] == [OfferStatus.EXPIRED, OfferStatus.OPEN]
        assert offers[0].entry.status == WaitlistStatus.WAITING
        assert waitlist_accept(clinic=clinic_a, offer=offers[1]).client == second
        assert Appointment.objects.filter(start=SLOT, status="confirmed").count() == 1


def test_a_rescheduled_time_is_offered_and_a_lost_race_keeps_the_client_waiting(clinic_a, line):
    from bookwell.bookings.services import appointment_reschedule
    from bookwell.core.errors import Conflict

    setup, booked, first, _ = line
    with clinic_context(clinic_a):
        appointment_reschedule(
            clinic=clinic_a, appointment=booked, start=SLOT + dt.timedelta(hours=2)
        )
        offer = WaitlistOffer.objects.get()
        assert offer.start == SLOT and offer.entry.client == first
        # Someone books the freed time before the waiting client accepts.
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=SLOT),
        )
        with pytest.raises(Conflict, match="taken meanwhile"):
            waitlist_accept(clinic=clinic_a, offer=offer)
        offer.refresh_from_db()
        assert offer.status == OfferStatus.EXPIRED
        assert offer.entry.status == WaitlistStatus.WAITING


def test_a_time_that_has_passed_or_is_inside_the_notice_is_never_offered(clinic_a, line, clock):
    _setup, booked, _, _ = line
    with clinic_context(clinic_a):
        clock.move_to(SLOT - dt.timedelta(minutes=30))  # the service's notice is 120 minutes
        appointment_cancel(appointment=booked, by_client=False)
        assert WaitlistOffer.objects.count() == 0


def test_an_offer_closes_by_the_notice_before_the_time(clinic_a, line, clock):
    _setup, booked, _, _ = line
    with clinic_context(clinic_a):
        clock.move_to(SLOT - dt.timedelta(minutes=150))  # 30 minutes before the notice starts
        appointment_cancel(appointment=booked, by_client=False)
        offer = WaitlistOffer.objects.get()
        assert offer.expires_at == SLOT - dt.timedelta(minutes=120)


def test_an_offer_for_a_withdrawn_place_cannot_be_accepted(clinic_a, line):
    _, booked, _, _ = line
    with clinic_context(clinic_a):
        appointment_cancel(appointment=booked, by_client=False)
        offer = WaitlistOffer.objects.get()
        offer.entry.status = WaitlistStatus.WITHDRAWN
        offer.entry.save()
        with pytest.raises(Gone):
            waitlist_accept(clinic=clinic_a, offer=offer)
        assert Appointment.objects.filter(status="confirmed").count() == 0


def test_accepting_checks_time_off_taken_since_the_offer(clinic_a, line):
    setup, booked, _first, _ = line
    with clinic_context(clinic_a):
        appointment_cancel(appointment=booked, by_client=False)
        offer = WaitlistOffer.objects.get()
        TimeOff.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            start=SLOT - dt.timedelta(hours=1),
            end=SLOT + dt.timedelta(hours=3),
            category="sick",
        )
        from bookwell.core.errors import Conflict

        with pytest.raises(Conflict):
            waitlist_accept(clinic=clinic_a, offer=offer)
        offer.refresh_from_db()
        assert offer.status == OfferStatus.EXPIRED


def test_an_accepted_offer_is_an_event_for_the_clinics_endpoints(clinic_a, line):
    from django.test import override_settings

    from bookwell.integrations import webhooks
    from bookwell.integrations.models import WebhookDelivery, WebhookEvent

    _, booked, first, _ = line
    with clinic_context(clinic_a), override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        webhooks.endpoint_create(
            clinic=clinic_a,
            url="http://127.0.0.1:9/hooks",  # (recorded, not sent here)
            events=[WebhookEvent.WAITLIST_OFFER_ACCEPTED.value],
        )
    with clinic_context(clinic_a):
        appointment_cancel(appointment=booked, by_client=True)
        offer = WaitlistOffer.objects.get()
        assert not WebhookDelivery.objects.exists()  # (only what the endpoint asked for)
        appointment = waitlist_accept(clinic=clinic_a, offer=offer)
        (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == WebhookEvent.WAITLIST_OFFER_ACCEPTED
    data = delivery.payload["data"]
    assert data["offer_id"] == offer.pk and data["appointment_id"] == str(appointment.pk)
    assert data["client_id"] == str(first.pk)
    assert "First In Line" not in json.dumps(delivery.payload)  # ids, never contact details
