"""A freed time offered to the first in line is sent to them (their language, the offer's
expiry and their link), once; an offer that has closed is not sent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from bookwell.bookings import manage_links
from bookwell.bookings.models import OfferStatus, WaitlistEntry, WaitlistOffer
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_cancel
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import services
from bookwell.notifications.models import Delivery, DeliveryStatus, Kind, SkipReason
from bookwell.scheduling.models import WorkingHours
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db
START = dt.datetime(2031, 6, 1, 8, 0, tzinfo=dt.UTC)
SLOT = dt.datetime(2031, 6, 4, 9, 0, tzinfo=dt.UTC)  # 11:00 in Berlin


@pytest.fixture
def offered(clinic_a, clock):
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.waitlist_offer_minutes = 60
    clinic_a.save()
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=setup.staff,
                location=setup.location,
                weekday=weekday,
                start_min=8 * 60,
                end_min=18 * 60,
            )
        booked = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=SLOT),
            notify=False,
        )
        waiting = client_create(
            clinic=clinic_a,
            data=ClientInput(
                full_name="Wanda Wartend", email="wanda@example.test", preferred_language="de"
            ),
        )
        waitlist_join(
            clinic=clinic_a,
            client=waiting,
            service=setup.service,
            first_day=SLOT.date(),
            last_day=SLOT.date(),
        )
        appointment_cancel(appointment=booked, by_client=True)
        offer = WaitlistOffer.objects.get()
    return offer


def _offers(clinic) -> list[Delivery]:
    with clinic_context(clinic):
        return list(Delivery.objects.filter(kind=Kind.WAITLIST_OFFER))


def test_the_offer_is_sent_in_the_clients_language_with_its_link(clinic_a, offered, member_client):
    [delivery] = _offers(clinic_a)
    assert delivery.waitlist_offer_id == offered.pk

    assert services.dispatch_due() == {"sent": 1}
    [email] = mail.outbox
    assert email.to == ["wanda@example.test"]
    assert "Massage" in email.subject and "11:00" in email.subject
    assert "Wanda Wartend" in email.body
    with clinic_context(clinic_a):
        entry = WaitlistEntry.objects.get()
        token = manage_links.token_for(entry)
    assert token and f"/book/{clinic_a.slug}/waitlist/{token}/" in email.body
    assert "am 4. Juni 2031 um 11:00" in email.body  # the time, on the clinic's clock
    assert "bis 01.06.2031 11:00" in email.body  # open for an hour from 10:00 that day
    assert services.dispatch_due() == {}  # once
    assert _offers(clinic_a)[0].status == DeliveryStatus.SENT

    _, desk = member_client(clinic_a, Role.FRONT_DESK)
    page = desk.get(reverse("notifications:deliveries", args=[clinic_a.slug])).content.decode()
    assert "Wanda Wartend" in page and "Waitlist offer" in page and "Massage" in page


def test_a_closed_offer_is_not_sent(clinic_a, offered):
    with clinic_context(clinic_a):
        WaitlistOffer.objects.filter(pk=offered.pk).update(status=OfferStatus.EXPIRED)
    services.dispatch_due()
    assert mail.outbox == []
    [delivery] = _offers(clinic_a)
    assert (delivery.status, delivery.skip_reason) == (
        DeliveryStatus.SKIPPED,
        SkipReason.NOT_CURRENT,
    )
