"""Retention (P20): each kind of finished record goes once its window has passed, and not a
day before; open work is never touched. The clock is moved by handing the job its `now`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from bookwell.bookings.models import Appointment, OfferStatus, WaitlistOffer
from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients.services import ClientInput, client_create
from bookwell.core import periodic
from bookwell.core.context import clinic_context, platform_scope
from bookwell.integrations.models import WebhookDelivery
from bookwell.notifications.models import Delivery, DeliveryStatus
from bookwell.privacy.models import RequestKind, SubjectRequest
from bookwell.privacy.retention import retention_run
from bookwell.privacy.services import subject_request_close, subject_request_record
from tests.bookings.factories import schedule
from tests.security.registry import _webhook_delivery

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2031, 1, 10, 12, 0, tzinfo=dt.UTC)


def _client_and_booking(clinic):
    setup = schedule(clinic)
    with clinic_context(clinic):
        client = client_create(
            clinic=clinic, data=ClientInput(full_name="Kept Client", email="kept@example.test")
        )
        appointment = appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=timezone.now() + dt.timedelta(days=2),
                client=client,
            ),
        )
    return setup, client, appointment


def _count(model, **filters) -> int:
    with platform_scope("test: rows left"):
        return model._base_manager.filter(**filters).count()


def test_the_job_is_registered_daily():
    job = next(j for j in periodic.jobs() if j.name == "privacy.retention")
    assert job.every == dt.timedelta(days=1)


@override_settings(RETENTION_DELIVERY_DAYS=365)
def test_finished_message_records_go_after_a_year_pending_ones_never(clinic_a):
    _setup, _client, appointment = _client_and_booking(clinic_a)
    with clinic_context(clinic_a):
        rows = Delivery.objects.filter(appointment=appointment)
        assert rows.count() >= 1
        rows.update(status=DeliveryStatus.SENT, updated_at=T0)
        pending = Delivery.objects.create(
            clinic=clinic_a,
            kind="reminder",
            channel="email",
            appointment=appointment,
            key="60",
            due_at=T0,
            next_attempt_at=T0,
        )
        Delivery.objects.filter(pk=pending.pk).update(updated_at=T0)
    sent = _count(Delivery, status=DeliveryStatus.SENT)
    assert retention_run(now=T0 + dt.timedelta(days=364))["messages"] == 0
    assert _count(Delivery, status=DeliveryStatus.SENT) == sent
    assert retention_run(now=T0 + dt.timedelta(days=366))["messages"] == sent
    assert _count(Delivery) == 1  # the pending one stays, however old
    assert _count(Appointment, pk=appointment.pk) == 1


@override_settings(RETENTION_DELIVERY_DAYS=365)
def test_webhook_delivery_logs_go_after_a_year(clinic_a):
    delivery_id = _webhook_delivery(clinic_a)["delivery_id"]
    with clinic_context(clinic_a):
        WebhookDelivery.objects.filter(pk=delivery_id).update(updated_at=T0)
    assert retention_run(now=T0 + dt.timedelta(days=364))["webhook_deliveries"] == 0
    assert retention_run(now=T0 + dt.timedelta(days=366))["webhook_deliveries"] == 1
    assert _count(WebhookDelivery) == 0


@override_settings(RETENTION_OFFER_DAYS=30)
def test_expired_waitlist_offers_go_after_thirty_days_others_stay(clinic_a):
    setup, client, appointment = _client_and_booking(clinic_a)
    with clinic_context(clinic_a):
        entry = waitlist_join(
            clinic=clinic_a,
            client=client,
            service=setup.service,
            first_day=T0.date(),
            last_day=T0.date() + dt.timedelta(days=3),
        )
        for status in (OfferStatus.EXPIRED, OfferStatus.OPEN, OfferStatus.ACCEPTED):
            WaitlistOffer.objects.create(
                clinic=clinic_a,
                entry=entry,
                staff=setup.staff,
                start=T0 + dt.timedelta(days=1),
                expires_at=T0,
                status=status,
                appointment=appointment if status == OfferStatus.ACCEPTED else None,
            )
    assert retention_run(now=T0 + dt.timedelta(days=29))["waitlist_offers"] == 0
    assert retention_run(now=T0 + dt.timedelta(days=31))["waitlist_offers"] == 1
    with clinic_context(clinic_a):  # an open one waits for the offer job to expire it
        assert sorted(WaitlistOffer.objects.values_list("status", flat=True)) == [
            OfferStatus.ACCEPTED,
            OfferStatus.OPEN,
        ]


@override_settings(RETENTION_REQUEST_DAYS=3 * 365)
def test_answered_privacy_requests_go_after_three_years_open_ones_stay(clinic_a):
    _setup, client, _appointment = _client_and_booking(clinic_a)
    with clinic_context(clinic_a):
        answered = subject_request_record(clinic=clinic_a, client=client, kind=RequestKind.ACCESS)
        subject_request_close(clinic=clinic_a, request=answered)
        still_open = subject_request_record(
            clinic=clinic_a, client=client, kind=RequestKind.ERASURE
        )
        SubjectRequest.objects.filter(pk=answered.pk).update(completed_at=T0)
    assert retention_run(now=T0 + dt.timedelta(days=3 * 365 - 1))["privacy_requests"] == 0
    assert retention_run(now=T0 + dt.timedelta(days=3 * 365 + 1))["privacy_requests"] == 1
    with clinic_context(clinic_a):
        assert list(SubjectRequest.objects.values_list("pk", flat=True)) == [still_open.pk]


def test_unpaid_holds_go_30_days_after_they_ended_and_paid_ones_stay(clinic_a):
    from bookwell.bookings.models import Status
    from bookwell.payments.models import Payment, PaymentKind, PaymentStatus
    from bookwell.payments.services import holds_expire

    setup = schedule(clinic_a)
    now = timezone.now()
    start = now + dt.timedelta(days=3)
    with clinic_context(clinic_a):
        held = [
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service, staff=setup.staff, start=start + dt.timedelta(hours=h)
                ),
                hold_until=now + dt.timedelta(minutes=15),
            )
            for h in (0, 2)
        ]
        unpaid = Payment.objects.create(
            clinic=clinic_a, appointment=held[0], kind=PaymentKind.FULL, amount_cents=500,
            currency="EUR",
        )  # fmt: skip
        refunded = Payment.objects.create(
            clinic=clinic_a, appointment=held[1], kind=PaymentKind.FULL, amount_cents=500,
            currency="EUR",
        )  # fmt: skip
    assert holds_expire(now=now + dt.timedelta(minutes=16)) == 2
    with clinic_context(clinic_a):
        Payment.objects.filter(pk=refunded.pk).update(
            status=PaymentStatus.REFUNDED, refunded_cents=500
        )
        assert set(Appointment.objects.values_list("status", flat=True)) == {Status.EXPIRED}
    day_29 = retention_run(now=now + dt.timedelta(days=29))
    assert day_29["expired_holds"] == 0
    # A hold cancelled while it waited for the payment goes the same way.
    with clinic_context(clinic_a):
        cancelled = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start + dt.timedelta(hours=4)
            ),
            hold_until=now + dt.timedelta(minutes=15),
        )
        from bookwell.bookings.services import appointment_cancel

        appointment_cancel(appointment=cancelled, by_client=False)  # as the desk does it
    day_31 = retention_run(now=now + dt.timedelta(days=31))
    assert day_31["expired_holds"] == 2
    with clinic_context(clinic_a):
        assert list(Appointment.objects.values_list("pk", flat=True)) == [held[1].pk]
        assert not Payment.objects.filter(pk=unpaid.pk).exists()
        assert Payment.objects.filter(pk=refunded.pk).exists()  # the accounts keep it
