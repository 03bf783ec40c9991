"""Payments at their edges (issue 10): key rotation, a hold confirmed by hand, the same form
sent after the hold ran out, money taken at the desk, a refund Stripe never took, and what
a service may ask for online."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings

from bookwell.bookings.models import Appointment, Status
from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_set_status,
)
from bookwell.clients.rotation import rotate_clinic_key
from bookwell.core.context import clinic_context
from bookwell.payments.models import (
    Payment,
    PaymentKind,
    PaymentSettings,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from bookwell.payments.services import payment_record_in_person, refund_issue, refund_send
from bookwell.scheduling.models import PaymentTerms
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule
from tests.bookings.test_public_booking import _url
from tests.payments.fake_stripe import fake_stripe

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)
AT = dt.datetime(2031, 3, 6, 9, 0, tzinfo=dt.UTC)
KEY = "sk_test_" + "z" * 24


def test_rotating_the_clinics_key_keeps_its_stripe_keys_readable(clinic_a):
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(clinic=clinic_a, secret_key=KEY, webhook_secret="whsec_z")
    rotate_clinic_key(clinic=clinic_a)
    with clinic_context(clinic_a):
        assert PaymentSettings.objects.get().secret_key == KEY


def test_a_hold_confirmed_by_hand_stays_booked_after_its_hold_would_have_ended(clinic_a, clock):
    setup = schedule(clinic_a)
    request = BookingRequest(service=setup.service, staff=setup.staff, start=AT)
    with clinic_context(clinic_a):
        held = appointment_book(
            clinic=clinic_a,
            request=request,
            hold_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
        )
        appointment_set_status(appointment=held, status=Status.CONFIRMED)
        held.refresh_from_db()
        assert held.hold_until is None
    clock.shift(60 * 60)
    with clinic_context(clinic_a), pytest.raises(SlotTaken):
        appointment_book(clinic=clinic_a, request=request)


def test_the_same_form_sent_after_the_hold_ran_out_says_so(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(
            clinic=clinic_a, enabled=True, secret_key=KEY, webhook_secret="whsec_z"
        )
        setup.service.price_cents = 5000
        setup.service.payment = PaymentTerms.FULL
        setup.service.save()
    browser = Client()
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        url = _url("book:details", clinic_a, service_id=setup.service.pk)
        page = browser.get(url, {"staff": setup.staff.pk, "start": int(AT.timestamp())})
        ticket = page.content.decode().split('name="ticket" value="')[1].split('"')[0]
        clock.shift(5)
        data = {
            "full_name": "Mia Online", "email": "mia@example.test", "staff": setup.staff.pk,
            "start": int(AT.timestamp()), "ticket": ticket,
        }  # fmt: skip
        first = browser.post(url, data)
        assert first.status_code == 302 and first["Location"].startswith("https://checkout.")
        # What goes to Stripe names the clinic and "Payment", never the service (P13).
        assert setup.service.name not in fake.requests[0].raw
        clock.shift(20 * 60)  # the hold has run out
        again = browser.post(url, data)
    assert again.status_code == 410 and "no longer held" in again.content.decode()
    with clinic_context(clinic_a):
        assert Appointment.objects.count() == 1


def test_money_taken_at_the_desk_is_not_refunded_by_the_policy(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=AT),
        )
        payment_record_in_person(appointment=appointment, amount_cents=5000)
        appointment_cancel(appointment=appointment, by_client=False)
        assert Refund.objects.count() == 0
        assert Payment.objects.get().status == PaymentStatus.PAID


def test_a_refund_stripe_never_took_is_not_counted_as_money_returned(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(clinic=clinic_a, enabled=True, secret_key=KEY)
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=AT),
        )
        payment = Payment.objects.create(
            clinic=clinic_a, appointment=appointment, kind=PaymentKind.FULL, amount_cents=4000,
            currency="EUR", status=PaymentStatus.PAID, stripe_payment_intent="pi_edge",
        )  # fmt: skip
        refund = refund_issue(payment=payment, amount_cents=4000, reason=RefundReason.STAFF)
        Refund.objects.filter(pk=refund.pk).update(attempts=4)  # the last try comes next
    from bookwell.payments import gateway

    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        fake.fail_with = 402
        with pytest.raises(gateway.GatewayError):
            refund_send(str(refund.pk))
    with clinic_context(clinic_a):
        refund.refresh_from_db()
        payment.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert payment.refunded_cents == 0 and payment.status == PaymentStatus.PAID


def test_a_service_asks_only_for_what_stripe_can_take(clinic_a, member_client):
    setup = schedule(clinic_a)
    _, owner = member_client(clinic_a, Role.OWNER)
    form = {
        "name": "Massage", "duration_min": "60", "buffer_before_min": "0",
        "buffer_after_min": "0", "price": "80.00", "currency": "EUR", "slot_interval_min": "30",
        "min_notice_min": "60", "max_advance_days": "90", "cancel_notice_min": "1440",
        "reschedule_notice_min": "1440", "online_bookable": "on",
        "assignment_policy": "least_booked", "capacity": "1", "deposit_percent": "0",
        "staff": [str(setup.staff.pk)],
    }  # fmt: skip
    url = f"/c/{clinic_a.slug}/services/{setup.service.pk}/"
    yen = owner.post(url, {**form, "currency": "JPY", "payment": PaymentTerms.FULL})
    assert yen.status_code == 400 and "currencies with cents" in yen.content.decode()
    tiny = owner.post(
        url, {**form, "payment": PaymentTerms.DEPOSIT_PERCENT, "deposit_percent": "0"}
    )
    assert tiny.status_code == 400
    small = owner.post(
        url, {**form, "price": "10.00", "payment": PaymentTerms.DEPOSIT_PERCENT,
              "deposit_percent": "1"},
    )  # fmt: skip
    assert small.status_code == 400 and "from 0.50" in small.content.decode()
