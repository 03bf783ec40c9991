"""Keeping data only as long as needed (P20): the daily job that deletes finished records past
their window. Open work is never touched: a message still to send, an offer still open, a
request not yet answered."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bookwell.bookings.models import Appointment, OfferStatus, Status, WaitlistOffer
from bookwell.core.context import platform_scope
from bookwell.integrations.models import WebhookDelivery, WebhookStatus
from bookwell.notifications.models import Delivery, DeliveryStatus
from bookwell.payments.models import PaymentStatus
from bookwell.privacy.models import RequestStatus, SubjectRequest


def retention_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Deletes, in every clinic: message and webhook delivery records finished more than
    RETENTION_DELIVERY_DAYS ago; waitlist offers that expired more than RETENTION_OFFER_DAYS
    ago; times held for an online payment that never came, RETENTION_EXPIRED_HOLD_DAYS after
    the hold ended; answered or withdrawn privacy requests closed more than
    RETENTION_REQUEST_DAYS ago.
    Returns how many rows of each went."""
    now = now or timezone.now()
    delivered = now - dt.timedelta(days=settings.RETENTION_DELIVERY_DAYS)
    expired = now - dt.timedelta(days=settings.RETENTION_OFFER_DAYS)
    unpaid = now - dt.timedelta(days=settings.RETENTION_EXPIRED_HOLD_DAYS)
    answered = now - dt.timedelta(days=settings.RETENTION_REQUEST_DAYS)
    done: dict[str, int] = {}
    with (
        platform_scope("retention: finished records past their window, every clinic"),
        transaction.atomic(),
    ):
        done["messages"], _ = Delivery.objects.filter(
            status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED],
            updated_at__lt=delivered,
        ).delete()
        done["webhook_deliveries"], _ = WebhookDelivery.objects.filter(
            status__in=[WebhookStatus.DELIVERED, WebhookStatus.FAILED],
            updated_at__lt=delivered,
        ).delete()
        # Marked expired by the offer job (which also moves the waitlist place on).
        offers = WaitlistOffer.objects.filter(expires_at__lt=expired, status=OfferStatus.EXPIRED)
        done["waitlist_offers"], _ = offers.delete()
        # Times held for a payment that never came (or cancelled while held): gone with
        # their unpaid payment records.
        # One that money moved for (a late payment refunded) stays with the accounts.
        holds = Appointment.objects.filter(
            status__in=[Status.EXPIRED, Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC],
            hold_until__lt=unpaid,
        ).exclude(
            payments__status__in=[
                PaymentStatus.PAID,
                PaymentStatus.REFUNDED,
                PaymentStatus.PARTLY_REFUNDED,
            ]
        )
        done["expired_holds"] = holds.count()
        holds.delete()
        done["privacy_requests"], _ = SubjectRequest.objects.filter(
            ~Q(status=RequestStatus.OPEN), completed_at__lt=answered
        ).delete()
    return done
