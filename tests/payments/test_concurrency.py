"""Paid bookings under concurrency (issue 10): clients racing for one paid time get one hold;
the hold job, a late payment from Stripe and a booking of the released time racing each other
never deadlock, never book the time twice, and never keep money for a time the client lost."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from bookwell.bookings.models import BLOCKING, Appointment, Status
from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
from bookwell.core.context import clinic_context
from bookwell.payments.models import Payment, PaymentStatus, Refund
from bookwell.payments.services import holds_expire
from tests.bookings.factories import together
from tests.bookings.test_public_booking import _book, _details_form
from tests.payments.fake_stripe import fake_stripe
from tests.payments.test_booking_with_payment import AT, _event, _send

pytestmark = pytest.mark.django_db(transaction=True)


def test_clients_racing_for_one_paid_time_get_one_hold_and_the_rest_see_it_taken(
    clinic_a, paid, clock
):
    workers = 8 if connection.vendor == "postgresql" else 4
    browsers = [Client() for _ in range(workers)]
    forms = [_details_form(b, clinic_a, paid, AT, paid.staff.pk) for b in browsers]
    clock.shift(5)  # everyone took a few seconds to type

    def attempt(i: int):
        url, ticket = forms[i]
        data = {
            "full_name": f"Racer {i}", "email": f"racer{i}@example.test",
            "staff": paid.staff.pk, "start": int(AT.timestamp()), "ticket": ticket,
        }  # fmt: skip
        return browsers[i].post(url, data)

    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        results, errors = together(workers, attempt)
    assert errors == []
    responses: list[Any] = list(results)
    codes = sorted(r.status_code for r in responses)
    assert codes == [302] + [409] * (workers - 1)
    winner = next(r for r in responses if r.status_code == 302)
    assert winner["Location"].startswith("https://checkout.stripe.test/")
    assert all("was just taken" in r.content.decode() for r in responses if r.status_code == 409)
    with clinic_context(clinic_a):
        held = Appointment.objects.get()
        assert held.status == Status.PENDING and held.hold_until is not None
        assert Payment.objects.get().appointment_id == held.pk
    # One Checkout Session only: the losers sent nothing to Stripe.
    assert [r.path for r in fake.requests] == ["/v1/checkout/sessions"]


def test_the_hold_job_a_late_payment_and_a_booking_of_the_time_racing_agree(clinic_a, paid, clock):
    """The hold ran out; at the same moment the hold job runs, Stripe reports the payment,
    and a desk books the same time. Whatever order the database picks: no error or deadlock,
    one appointment holds the time, and the client keeps either the time or their money."""
    rounds = 6
    outcomes: set[str] = set()
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        for n in range(rounds):
            start = AT + dt.timedelta(hours=n % 2, days=7 * (n // 2))
            answer = _book(
                Client(), clinic_a, paid, start, clock, staff=paid.staff.pk,
                email=f"late{n}@example.test",
            )  # fmt: skip
            assert answer.status_code == 302
            with clinic_context(clinic_a):
                payment = Payment.objects.latest("created_at")
                held = Appointment.objects.get(pk=payment.appointment_id)
            assert held.start == start
            clock.shift(16 * 60)  # the hold has run out; nothing has marked it yet
            body, header = _event("checkout.session.completed", payment)
            request = BookingRequest(service=paid.service, staff=paid.staff, start=start)

            # Round by round: all at once, then the desk a moment late, then Stripe late (so
            # that both endings are seen whatever this machine's scheduler prefers).
            late = {0: None, 1: 2, 2: 1}[n % 3]

            def attempt(i: int, body=body, header=header, request=request, late=late):
                if i == late:
                    time.sleep(0.5)
                if i == 0:
                    return ("job", holds_expire())
                if i == 1:
                    return ("stripe", _send(clinic_a, body, header).json()["outcome"])
                with clinic_context(clinic_a):
                    try:
                        return ("desk", appointment_book(clinic=clinic_a, request=request).pk)
                    except SlotTaken:
                        return ("desk", None)

            results, errors = together(3, attempt)
            assert errors == []
            said: dict[str, Any] = dict(results)
            with clinic_context(clinic_a):
                held.refresh_from_db()
                payment.refresh_from_db()
                live = list(
                    Appointment.objects.filter(
                        status__in=BLOCKING, start__lt=start + dt.timedelta(hours=1),
                        end__gt=start,
                    )
                )  # fmt: skip
                refunds = list(Refund.objects.filter(payment=payment))
            assert len(live) == 1  # the time is held by exactly one appointment
            if said["desk"] is None:  # the paid hold kept its time
                assert said["stripe"] == "confirmed"
                assert live[0].pk == held.pk and held.status == Status.CONFIRMED
                assert payment.status == PaymentStatus.PAID and refunds == []
                outcomes.add("kept")
            else:  # the desk took the time first: the late payment goes back in full
                assert said["stripe"] == "refunded"
                assert live[0].pk == said["desk"] and held.status == Status.EXPIRED
                assert [r.amount_cents for r in refunds] == [payment.amount_cents]
                outcomes.add("refunded")
            clock.shift(60)
    assert outcomes == {"kept", "refunded"}
