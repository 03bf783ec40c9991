"""Booking a service paid online (issue 10): the time is held while the client pays on
Stripe's page (a local fake Stripe here), Stripe's signed events confirm or release it, a hold
that runs out frees the time at once, and nothing about the client goes to Stripe (P13)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import stripe
from django.core import mail
from django.test import Client, override_settings

from bookwell.bookings.models import Appointment, Status
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.core.context import clinic_context
from bookwell.notifications.services import dispatch_due
from bookwell.payments.models import Payment, PaymentSettings, PaymentStatus
from bookwell.payments.services import holds_expire
from bookwell.scheduling.models import PaymentTerms
from tests.bookings.test_public_booking import START, _book, _url
from tests.payments.conftest import WHSEC
from tests.payments.fake_stripe import FakeStripe, fake_stripe

pytestmark = pytest.mark.django_db
assert START  # the booking tests' clock: Tuesday 4 March 2031

AT = dt.datetime(2031, 3, 6, 9, 0, tzinfo=dt.UTC)  # Thursday 10:00 in Berlin


def _event(kind: str, payment: Payment, **session) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "id": f"evt_{kind}_{payment.pk}",
            "object": "event",
            "type": kind,
            "data": {
                "object": {
                    "id": payment.stripe_session_id,
                    "object": "checkout.session",
                    "client_reference_id": str(payment.pk),
                    "payment_status": "paid",
                    "payment_intent": "pi_test_1",
                    **session,
                }
            },
        }
    )
    at = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body}", WHSEC)
    return body.encode(), f"t={at},v1={signature}"


def _send(clinic, body: bytes, header: str):
    with clinic_context(clinic):
        endpoint = PaymentSettings.objects.get().pk
    return Client().post(
        f"/stripe/events/{endpoint}/",
        body,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


def _book_paid(clinic, paid, clock, fake: FakeStripe, **fields):
    with override_settings(STRIPE_API_BASE=fake.base):
        return _book(Client(), clinic, paid, AT, clock, staff=paid.staff.pk, **fields)


def _only(clinic) -> tuple[Appointment, Payment]:
    with clinic_context(clinic):
        return Appointment.objects.get(), Payment.objects.get()


def test_the_time_is_held_the_client_pays_on_stripe_and_the_event_confirms(clinic_a, paid, clock):
    with fake_stripe() as fake:
        response = _book_paid(clinic_a, paid, clock, fake)
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.test/")
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.PENDING and appointment.hold_until is not None
    assert appointment.hold_until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=15)
    assert (payment.amount_cents, payment.currency, payment.kind) == (2400, "EUR", "deposit")
    assert payment.status == PaymentStatus.PENDING and payment.stripe_session_id
    # What went to Stripe: the amount, currency and the payment's id; nothing of the client.
    [request] = fake.requests
    assert request.form["line_items[0][price_data][unit_amount]"] == "2400"
    assert request.form["client_reference_id"] == str(payment.pk)
    for personal in ("Mia", "mia@example.test", "mia%40example.test", "Online"):
        assert personal not in request.raw
    # Nothing is sent to the client until the payment is in.
    dispatch_due()
    assert mail.outbox == []

    # Back from Stripe before its event: the page waits (and polls).
    back = Client().get(_url("book:payment", clinic_a, payment_id=payment.pk))
    assert back.status_code == 200 and "Waiting for your payment" in back.content.decode()
    assert back.cookies == {}

    body, header = _event("checkout.session.completed", payment)
    done = _send(clinic_a, body, header)
    assert done.status_code == 200 and done.json()["outcome"] == "confirmed"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.CONFIRMED and appointment.hold_until is None
    assert payment.status == PaymentStatus.PAID and payment.stripe_payment_intent == "pi_test_1"
    dispatch_due()
    assert len(mail.outbox) == 1 and "mia@example.test" in mail.outbox[0].to
    page = Client().get(_url("book:payment", clinic_a, payment_id=payment.pk))
    assert "You are booked" in page.content.decode()

    # The same event again, and a late "expired" after it, change nothing.
    assert _send(clinic_a, body, header).json()["outcome"] == "duplicate"
    late, late_header = _event("checkout.session.expired", payment)
    assert _send(clinic_a, late, late_header).json()["outcome"] == "duplicate"
    assert _only(clinic_a)[0].status == Status.CONFIRMED


def test_a_bad_signature_is_400_and_changes_nothing(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _appointment, payment = _only(clinic_a)
    body, header = _event("checkout.session.completed", payment)
    forged = _send(clinic_a, body.replace(b"pi_test_1", b"pi_test_2"), header)
    assert forged.status_code == 400
    assert forged["Content-Type"] == "application/problem+json"
    assert forged.json()["code"] == "bad_signature"
    assert _send(clinic_a, body, "t=1,v1=deadbeef").status_code == 400
    nowhere = Client().post(
        f"/stripe/events/{uuid.uuid4()}/", body, content_type="application/json",
        headers={"Stripe-Signature": header},
    )  # fmt: skip
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.PENDING and payment.status == PaymentStatus.PENDING


def test_an_expired_checkout_releases_the_time(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _appointment, payment = _only(clinic_a)
    body, header = _event("checkout.session.expired", payment, payment_status="unpaid")
    assert _send(clinic_a, body, header).json()["outcome"] == "released"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.EXPIRED and payment.status == PaymentStatus.EXPIRED
    page = Client().get(_url("book:payment", clinic_a, payment_id=payment.pk))
    assert "no longer held" in page.content.decode()


def test_a_hold_that_runs_out_frees_the_time_at_once(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
        held, _payment = _only(clinic_a)
        request = BookingRequest(service=paid.service, staff=paid.staff, start=AT)
        # While it is held, a second client cannot have the time.
        with clinic_context(clinic_a), pytest.raises(SlotTaken):
            appointment_book(clinic=clinic_a, request=request)
        # Once the hold has run out, the time is free (before any job has run).
        clock.shift(16 * 60)
        with clinic_context(clinic_a):
            second = appointment_book(clinic=clinic_a, request=request)
            held.refresh_from_db()
        assert second.status == Status.CONFIRMED
        assert held.status == Status.EXPIRED  # released by the booking that took its time
        # The hold job closes its payment and Stripe's page.
        with override_settings(STRIPE_API_BASE=fake.base):
            from django.test import TestCase

            with TestCase.captureOnCommitCallbacks(execute=True):
                holds_expire()
        with clinic_context(clinic_a):
            payment = Payment.objects.get()
        assert payment.status == PaymentStatus.EXPIRED
        assert fake.expired == [payment.stripe_session_id]

        # Paid on Stripe after all, too late: the time is gone, so it is refunded in full.
        body, header = _event("checkout.session.completed", payment)
        with override_settings(STRIPE_API_BASE=fake.base):
            from django.test import TestCase

            with TestCase.captureOnCommitCallbacks(execute=True):
                outcome = _send(clinic_a, body, header).json()["outcome"]
        assert outcome == "refunded"
        # The worker sends the refund (queued after the event's transaction committed).
        from bookwell.payments.models import Refund
        from bookwell.payments.services import refund_send

        with clinic_context(clinic_a):
            [refund] = Refund.objects.all()
        with override_settings(STRIPE_API_BASE=fake.base):
            assert refund_send(str(refund.pk)) == "sent"
        assert fake.refunds == [
            {"payment_intent": "pi_test_1", "amount": str(payment.amount_cents)}
        ]
        with clinic_context(clinic_a):
            payment.refresh_from_db()
            held.refresh_from_db()
        assert payment.status == PaymentStatus.REFUNDED and held.status == Status.EXPIRED
        page = Client().get(_url("book:payment", clinic_a, payment_id=payment.pk))
        assert "refunded in full" in page.content.decode()


def test_the_hold_job_expires_holds_nobody_took(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    assert holds_expire() == 0  # not yet
    clock.shift(16 * 60)
    assert holds_expire() == 1
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.EXPIRED and payment.status == PaymentStatus.EXPIRED


def test_stripe_unreachable_says_the_time_is_held_and_a_retry_works(clinic_a, paid, clock):
    with fake_stripe() as fake:
        fake.fail_with = 500
        response = _book_paid(clinic_a, paid, clock, fake)
        assert response.status_code == 503
        html = response.content.decode()
        assert "could not start" in html and "held for 15 more minutes" in html
        _appointment, payment = _only(clinic_a)
        assert payment.status == PaymentStatus.PENDING and not payment.checkout_url
        fake.fail_with = None
        with override_settings(STRIPE_API_BASE=fake.base):
            retry = Client().post(_url("book:payment-start", clinic_a, payment_id=payment.pk))
    assert retry.status_code == 302 and retry["Location"].startswith(
        "https://checkout.stripe.test/"
    )
    assert _only(clinic_a)[1].checkout_url == retry["Location"]


def test_services_without_online_payment_book_as_before(clinic_a, paid, clock):
    with clinic_context(clinic_a):
        paid.service.payment = PaymentTerms.NONE
        paid.service.save()
    with fake_stripe() as fake:
        response = _book_paid(clinic_a, paid, clock, fake)
    assert response.status_code == 302 and "/manage/" in response["Location"]
    assert fake.requests == []
    appointment = _only_appointment(clinic_a)
    assert appointment.status == Status.CONFIRMED and appointment.hold_until is None


def _only_appointment(clinic) -> Appointment:
    with clinic_context(clinic):
        return Appointment.objects.get()


def test_a_second_client_sees_a_held_time_taken_until_the_hold_runs_out(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
        # The second client, on the public page: the held time is not offered, and sending
        # the form for it anyway is refused as taken.
        day = Client().get(
            _url("book:service", clinic_a, service_id=paid.service.pk),
            {"staff": paid.staff.pk, "month": "2031-03", "day": "2031-03-06"},
        )
        assert f"start={int(AT.timestamp())}" not in day.content.decode()
        taken = _book_paid(clinic_a, paid, clock, fake, email="second@example.test")
        assert taken.status_code == 409
        clock.shift(16 * 60)  # the first hold runs out: the time is offered again, and booked
        day = Client().get(
            _url("book:service", clinic_a, service_id=paid.service.pk),
            {"staff": paid.staff.pk, "month": "2031-03", "day": "2031-03-06"},
        )
        assert f"start={int(AT.timestamp())}" in day.content.decode()
        second = _book_paid(clinic_a, paid, clock, fake, email="second@example.test")
    assert second.status_code == 302 and second["Location"].startswith("https://checkout.")
    with clinic_context(clinic_a):
        statuses = sorted(Appointment.objects.values_list("status", flat=True))
    assert statuses == [Status.EXPIRED, Status.PENDING]


def test_a_payment_completed_after_its_expiry_event_still_books_a_free_time(clinic_a, paid, clock):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _appointment, payment = _only(clinic_a)
    expired, expired_header = _event("checkout.session.expired", payment, payment_status="unpaid")
    assert _send(clinic_a, expired, expired_header).json()["outcome"] == "released"
    # Events out of order: the payment did go through, and nobody took the time meanwhile.
    done, done_header = _event("checkout.session.completed", payment)
    assert _send(clinic_a, done, done_header).json()["outcome"] == "confirmed"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.CONFIRMED and payment.status == PaymentStatus.PAID


def test_a_hold_confirmed_by_the_desk_keeps_a_payment_that_comes_later(clinic_a, paid, clock):
    from bookwell.bookings.services import appointment_set_status

    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    held, payment = _only(clinic_a)
    with clinic_context(clinic_a):
        appointment_set_status(appointment=held, status=Status.CONFIRMED)
    body, header = _event("checkout.session.completed", payment)
    assert _send(clinic_a, body, header).json()["outcome"] == "kept"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.CONFIRMED and payment.status == PaymentStatus.PAID
    with clinic_context(clinic_a):
        from bookwell.payments.models import Refund

        assert not Refund.objects.exists()


def test_the_same_form_after_the_clinic_cancelled_the_hold_does_not_say_booked(
    clinic_a, paid, clock
):
    from bookwell.bookings.services import appointment_cancel

    url = _url("book:details", clinic_a, service_id=paid.service.pk)
    browser = Client()
    page = browser.get(url, {"staff": paid.staff.pk, "start": int(AT.timestamp())})
    ticket = page.content.decode().split('name="ticket" value="')[1].split('"')[0]
    clock.shift(5)
    data = {
        "full_name": "Mia Online", "email": "mia@example.test", "staff": paid.staff.pk,
        "start": int(AT.timestamp()), "ticket": ticket,
    }  # fmt: skip
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        browser.post(url, data)
        held, _payment = _only(clinic_a)
        with clinic_context(clinic_a):
            appointment_cancel(appointment=held, by_client=False)
        again = browser.post(url, data)
    assert again.status_code == 302 and "new=1" not in again["Location"]
    assert "/manage/" in again["Location"]


def test_a_late_payment_is_refunded_when_the_staff_member_is_away_by_then(clinic_a, paid, clock):
    from bookwell.payments.models import Refund
    from bookwell.scheduling.models import TimeOff

    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _appointment, payment = _only(clinic_a)
    expired, header = _event("checkout.session.expired", payment, payment_status="unpaid")
    _send(clinic_a, expired, header)
    with clinic_context(clinic_a):  # the practitioner takes that morning off meanwhile
        TimeOff.objects.create(
            clinic=clinic_a, staff=paid.staff, start=AT - dt.timedelta(hours=1),
            end=AT + dt.timedelta(hours=3),
        )  # fmt: skip
    done, done_header = _event("checkout.session.completed", payment)
    assert _send(clinic_a, done, done_header).json()["outcome"] == "refunded"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.EXPIRED and payment.status == PaymentStatus.REFUNDED
    with clinic_context(clinic_a):
        assert Refund.objects.get().reason == "late_payment"


def test_a_payment_for_a_hold_that_ran_out_unmarked_gets_the_same_checks(clinic_a, paid, clock):
    """The hold ran out and no job has marked it yet (no worker, or before its minute): a
    payment then is checked as after an expiry event. The practitioner is away by then."""
    from bookwell.scheduling.models import TimeOff

    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    clock.shift(16 * 60)
    held, payment = _only(clinic_a)
    assert held.status == Status.PENDING  # ran out, not marked
    with clinic_context(clinic_a):
        TimeOff.objects.create(
            clinic=clinic_a, staff=paid.staff, start=AT - dt.timedelta(hours=1),
            end=AT + dt.timedelta(hours=3),
        )  # fmt: skip
    done, done_header = _event("checkout.session.completed", payment)
    assert _send(clinic_a, done, done_header).json()["outcome"] == "refunded"
    held, payment = _only(clinic_a)
    assert held.status != Status.CONFIRMED and payment.status == PaymentStatus.REFUNDED


def test_a_move_into_a_hold_that_ran_out_succeeds_and_the_late_payment_goes_back(
    clinic_a, paid, clock
):
    """Availability shows a run-out hold's time as free: the desk moves another appointment
    there (PostgreSQL's overlap guarantee must agree), and the hold's late payment is refunded
    rather than booking the time twice."""
    from bookwell.bookings.models import BLOCKING
    from bookwell.bookings.services import appointment_reschedule
    from bookwell.payments.models import Refund

    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
        held, payment = _only(clinic_a)
        with clinic_context(clinic_a):
            other = appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=paid.service, staff=paid.staff, start=AT + dt.timedelta(hours=3)
                ),
            )
            with pytest.raises(SlotTaken):  # while it is held, the time is not free
                appointment_reschedule(clinic=clinic_a, appointment=other, start=AT)
        clock.shift(16 * 60)
        with clinic_context(clinic_a):
            moved = appointment_reschedule(clinic=clinic_a, appointment=other, start=AT)
        assert moved.start == AT
        done, done_header = _event("checkout.session.completed", payment)
        assert _send(clinic_a, done, done_header).json()["outcome"] == "refunded"
    with clinic_context(clinic_a):
        live = list(Appointment.objects.filter(status__in=BLOCKING, start=AT))
        held.refresh_from_db()
        assert [a.pk for a in live] == [other.pk]
        assert held.status == Status.EXPIRED
        assert Refund.objects.get().amount_cents == payment.amount_cents


def test_a_failed_delayed_payment_releases_the_hold_and_an_unpaid_completion_waits(
    clinic_a, paid, clock
):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _held, payment = _only(clinic_a)
    # Checkout completed with a delayed method (a bank debit): not paid yet, nothing changes.
    waiting, header = _event("checkout.session.completed", payment, payment_status="unpaid")
    assert _send(clinic_a, waiting, header).json()["outcome"] == "waiting"
    held, payment = _only(clinic_a)
    assert held.status == Status.PENDING and payment.status == PaymentStatus.PENDING
    failed, header = _event(
        "checkout.session.async_payment_failed", payment, payment_status="unpaid"
    )
    assert _send(clinic_a, failed, header).json()["outcome"] == "released"
    held, payment = _only(clinic_a)
    assert held.status == Status.EXPIRED and payment.status == PaymentStatus.FAILED


def test_an_event_for_one_clinic_sent_to_anothers_address_changes_nothing(
    clinic_a, clinic_b, paid, clock
):
    with fake_stripe() as fake:
        _book_paid(clinic_a, paid, clock, fake)
    _appointment, payment = _only(clinic_a)
    body, header = _event("checkout.session.completed", payment)
    # Clinic B, even with the same signing secret (it verifies), cannot reach A's payment.
    with clinic_context(clinic_b):
        PaymentSettings.objects.create(
            clinic=clinic_b, enabled=True, secret_key="sk_test_" + "b" * 24, webhook_secret=WHSEC
        )
    answer = _send(clinic_b, body, header)
    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
    appointment, payment = _only(clinic_a)
    assert appointment.status == Status.PENDING and payment.status == PaymentStatus.PENDING
