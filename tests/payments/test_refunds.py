"""The cancellation policy and refunds (issue 10): in time or cancelled by the clinic, all of
it back; late or a no-show, what the clinic does not keep; sent to Stripe by the worker (a
local fake Stripe records it); never more than was paid."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import TestCase, override_settings

from bookwell.bookings.models import Status
from bookwell.bookings.services import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_set_status,
)
from bookwell.core.context import clinic_context
from bookwell.core.errors import Conflict
from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint
from bookwell.payments.models import (
    Payment,
    PaymentKind,
    PaymentSettings,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from bookwell.payments.services import refund_issue, refund_send
from tests.bookings.factories import schedule
from tests.payments.fake_stripe import fake_stripe

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)
AT = dt.datetime(2031, 3, 6, 9, 0, tzinfo=dt.UTC)  # two days later; notice window 24 hours


def _paid(clinic, keep=100, amount=3000):
    setup = schedule(clinic, cancel_notice_min=24 * 60)
    with clinic_context(clinic):
        PaymentSettings.objects.create(
            clinic=clinic, enabled=True, secret_key="sk_test_" + "r" * 24, keep_percent=keep
        )
        WebhookEndpoint.objects.create(
            clinic=clinic, url="https://hooks.example.test/p", secret="whsec_refunds",
            events=["payment.refunded"],
        )  # fmt: skip
        appointment = appointment_book(
            clinic=clinic,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=AT),
        )
        payment = Payment.objects.create(
            clinic=clinic, appointment=appointment, kind=PaymentKind.DEPOSIT,
            amount_cents=amount, currency="EUR", status=PaymentStatus.PAID,
            stripe_payment_intent="pi_refunds",
        )  # fmt: skip
    return appointment, payment


def _refunds(clinic) -> list[tuple[int, str]]:
    with clinic_context(clinic):
        return list(Refund.objects.order_by("created_at").values_list("amount_cents", "reason"))


@pytest.mark.parametrize(
    ("minutes_before_window", "expected"),
    [(1, [(3000, RefundReason.FREE_CANCELLATION)]), (-1, [(1500, RefundReason.LATE_CANCELLATION)])],
)
def test_a_client_cancelling_at_the_edge_of_the_window(
    clinic_a, clock, minutes_before_window, expected
):
    appointment, payment = _paid(clinic_a, keep=50)
    closes = AT - dt.timedelta(hours=24)
    clock.move_to(closes - dt.timedelta(minutes=minutes_before_window))
    with clinic_context(clinic_a):
        appointment_cancel(
            appointment=appointment, by_client=True, override_reason="clinic_request"
        )
        payment.refresh_from_db()
    assert _refunds(clinic_a) == expected
    refunded = expected[0][0]
    assert payment.refunded_cents == refunded
    assert payment.status == (
        PaymentStatus.REFUNDED if refunded == 3000 else PaymentStatus.PARTLY_REFUNDED
    )


def test_the_clinic_cancelling_gives_everything_back_and_keep_100_keeps_a_late_one(
    clinic_a, clinic_b, clock
):
    appointment, _payment = _paid(clinic_a, keep=100)
    clock.move_to(AT - dt.timedelta(hours=1))  # late, by anyone's measure
    with clinic_context(clinic_a):
        appointment_cancel(appointment=appointment, by_client=False)
    assert _refunds(clinic_a) == [(3000, RefundReason.CLINIC_CANCELLED)]

    late, _ = _paid(clinic_b, keep=100)
    with clinic_context(clinic_b):
        appointment_cancel(appointment=late, by_client=True, override_reason="clinic_request")
    assert _refunds(clinic_b) == []  # the clinic keeps all of a late cancellation


def test_a_no_show_returns_what_the_clinic_does_not_keep(clinic_a, clock):
    appointment, _payment = _paid(clinic_a, keep=75, amount=2000)
    clock.move_to(AT + dt.timedelta(hours=1))
    with clinic_context(clinic_a):
        appointment_set_status(appointment=appointment, status=Status.NO_SHOW)
    assert _refunds(clinic_a) == [(500, RefundReason.NO_SHOW)]


def test_a_refund_goes_to_stripe_once_and_is_never_more_than_was_paid(clinic_a, clock):
    _appointment, payment = _paid(clinic_a)
    with clinic_context(clinic_a):
        with TestCase.captureOnCommitCallbacks() as queued:
            refund = refund_issue(payment=payment, amount_cents=1000, reason=RefundReason.STAFF)
        assert len(queued) == 1  # the worker's task, after commit
        with pytest.raises(Conflict) as too_much:
            refund_issue(payment=payment, amount_cents=2001, reason=RefundReason.STAFF)
        assert too_much.value.code == "refund_too_large"
        payment.refresh_from_db()
        assert payment.refunded_cents == 1000 and Refund.objects.count() == 1
        # The event for the clinic's integrations: amounts and ids only.
        event = WebhookDelivery.objects.get(event="payment.refunded")
        assert event.payload["data"]["refund_cents"] == 1000
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        assert refund_send(str(refund.pk)) == "sent"
        assert refund_send(str(refund.pk)) == "done"  # a second run sends nothing
    assert fake.refunds == [{"payment_intent": "pi_refunds", "amount": "1000"}]
    assert fake.requests[0].headers["idempotency-key"] == f"bookwell-refund-{refund.pk}"
    with clinic_context(clinic_a):
        refund.refresh_from_db()
    assert refund.status == RefundStatus.SENT and refund.stripe_refund_id.startswith("re_test_")


def test_stripe_refusing_a_refund_leaves_it_pending_for_the_retry(clinic_a, clock):
    from bookwell.payments import gateway

    _appointment, payment = _paid(clinic_a)
    with clinic_context(clinic_a):
        refund = refund_issue(payment=payment, amount_cents=500, reason=RefundReason.STAFF)
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        fake.fail_with = 500
        with pytest.raises(gateway.GatewayError):
            refund_send(str(refund.pk))
        with clinic_context(clinic_a):
            refund.refresh_from_db()
        assert refund.status == RefundStatus.PENDING and refund.attempts == 1
        fake.fail_with = None
        assert refund_send(str(refund.pk)) == "sent"


def test_a_late_share_is_taken_from_what_was_paid_not_from_what_is_left(clinic_a, clock):
    appointment, payment = _paid(clinic_a, keep=50, amount=4000)
    with clinic_context(clinic_a):
        refund_issue(payment=payment, amount_cents=1000, reason=RefundReason.STAFF)
    clock.move_to(AT - dt.timedelta(hours=1))
    with clinic_context(clinic_a):
        appointment_cancel(appointment=appointment, by_client=True, override_reason="goodwill")
    # The policy returns half of the 40.00 paid (20.00), of which 10.00 went back already.
    assert _refunds(clinic_a) == [
        (1000, RefundReason.STAFF),
        (1000, RefundReason.LATE_CANCELLATION),
    ]
