"""Payments at booking (issue 10): what a service costs online, the hold while the client pays
on Stripe's page, and what Stripe tells us afterwards.

The flow: the public booking holds the time as a pending appointment (hold_until) with a
pending Payment, in one transaction; then a Checkout Session is made (outside it: a slow
Stripe must not hold locks) and the client is sent there. Stripe's signed webhook confirms
(the appointment is confirmed and its confirmation goes out) or releases. A hold that runs out
is free for others at once (availability, and bookings release it); the hold job marks it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.audit.models import Action, Outcome, TargetKind
from bookwell.audit.services import audit
from bookwell.bookings.models import Appointment, Status
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import Conflict, Gone, ServiceError
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.payments import gateway
from bookwell.payments.models import (
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentSettings,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from bookwell.scheduling.models import PaymentTerms, Service
from bookwell.tenancy.models import Clinic

logger = logging.getLogger("bookwell.payments")


@dataclass(frozen=True)
class Due:
    kind: str
    amount_cents: int
    currency: str
    hold_minutes: int


def payment_settings(clinic: Clinic) -> PaymentSettings | None:
    return PaymentSettings.objects.filter(clinic=clinic).first()


def amount_due(clinic: Clinic, service: Service) -> Due | None:
    """What a client pays online to book `service`; None when nothing (the clinic takes no
    payments, or the service asks for none)."""
    terms = payment_settings(clinic)
    if terms is None or not terms.enabled or service.payment == PaymentTerms.NONE:
        return None
    price = service.price_cents
    if service.payment == PaymentTerms.FULL:
        kind, cents = PaymentKind.FULL, price
    elif service.payment == PaymentTerms.DEPOSIT_FIXED:
        # A fixed deposit, never more than the price (a service without a price: the deposit).
        cents = min(service.deposit_cents, price) if price else service.deposit_cents
        kind = PaymentKind.DEPOSIT
    else:
        kind, cents = PaymentKind.DEPOSIT, (price * service.deposit_percent + 50) // 100
    if cents <= 0:
        return None
    # The service's own currency: its price is set in it (two-decimal currencies only: the
    # service form refuses others for online payment).
    return Due(kind, cents, service.currency, terms.hold_minutes)


def payment_hold(*, clinic: Clinic, appointment: Appointment, due: Due) -> Payment:
    """The pending payment of a held appointment (in the booking's transaction)."""
    return Payment.objects.create(
        clinic=clinic,
        appointment=appointment,
        kind=due.kind,
        amount_cents=due.amount_cents,
        currency=due.currency,
    )


def return_url(clinic: Clinic, payment: Payment) -> str:
    return settings.BASE_URL + reverse(
        "book:payment", kwargs={"clinic_slug": clinic.slug, "payment_id": payment.pk}
    )


def checkout_start(*, clinic: Clinic, payment: Payment) -> str:
    """The address of the Checkout page for a pending payment (made once: a second call, or a
    retry after Stripe failed, gives the same session). Raises Gone when the hold has run
    out, GatewayError when Stripe cannot be reached."""
    appointment = Appointment.objects.select_related("service").get(pk=payment.appointment_id)
    now = timezone.now()
    if (
        payment.status != PaymentStatus.PENDING
        or appointment.status != Status.PENDING
        or appointment.hold_until is None
        or appointment.hold_until <= now
    ):
        raise Gone(_("This time is no longer held. Please choose a time again."), code="hold_over")
    if payment.checkout_url:
        return payment.checkout_url
    terms = payment_settings(clinic)
    if terms is None or not terms.secret_key:
        raise gateway.GatewayError("not_configured")
    here = return_url(clinic, payment)
    what = _("Deposit") if payment.kind == PaymentKind.DEPOSIT else _("Payment")
    session = gateway.checkout_session_create(
        secret_key=terms.secret_key,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        reference=str(payment.pk),
        # The clinic's name and what is paid: the service's name could say something about the
        # client's health, so it stays here (P13).
        item_name=f"{clinic.name} · {what}",
        success_url=here,
        cancel_url=here,
        # The same on every try (a retry after a timeout must send the same parameters under
        # the same idempotency key), and at least the 30 minutes Stripe wants from any try
        # made while the time is still held.
        expires_at=appointment.hold_until + dt.timedelta(minutes=31),
        idempotency_key=f"bookwell-checkout-{payment.pk}",
    )
    Payment.objects.filter(pk=payment.pk).update(
        stripe_session_id=session.id, checkout_url=session.url, updated_at=now
    )
    payment.stripe_session_id, payment.checkout_url = session.id, session.url
    return session.url


# --- What Stripe tells us ------------------------------------------------------------------------


class WebhookRefused(ServiceError):
    status = 400
    code = "bad_signature"


def stripe_event(*, clinic: Clinic, payload: bytes, signature: str) -> str:
    """Handles one signed event from the clinic's Stripe account; returns what it did.
    Idempotent: the same event again, or an older one after a newer, changes nothing."""
    terms = payment_settings(clinic)
    if terms is None or not terms.webhook_secret:
        raise WebhookRefused(_("Payments are not set up for this clinic."))
    try:
        event = gateway.event_verify(payload, signature, terms.webhook_secret)
    except gateway.BadSignature:
        raise WebhookRefused(_("The signature does not verify.")) from None
    kind = str(event.get("type", ""))
    session: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get(
        "bookwell_payment"
    )
    if session.get("object") != "checkout.session" or not reference:
        return "ignored"
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(pk=_uuid_or_none(reference), stripe_session_id=session.get("id"))
            .first()
        )
        if payment is None:
            return "ignored"
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            if session.get("payment_status") not in ("paid", "no_payment_required"):
                return "waiting"  # (a delayed method: its own event follows)
            return _paid(clinic, terms, payment, str(session.get("payment_intent") or ""))
        if kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
            return _unpaid(clinic, payment, failed=kind.endswith("failed"))
    return "ignored"


def _uuid_or_none(value: object) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _paid(clinic: Clinic, terms: PaymentSettings, payment: Payment, intent: str) -> str:
    from bookwell.notifications.models import Kind
    from bookwell.notifications.services import outbox_appointment

    if payment.status != PaymentStatus.PENDING and payment.status != PaymentStatus.EXPIRED:
        return "duplicate"  # paid already (or refunded): the event came again
    now = timezone.now()
    appointment = Appointment.objects.select_for_update().get(pk=payment.appointment_id)
    # Confirmed by hand meanwhile (the desk trusted the client): the money belongs to it.
    confirmed = appointment.status in (Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED)
    if appointment.status in (Status.PENDING, Status.EXPIRED):
        # Paid after its hold ran out: kept if the time is still free (the database's overlap
        # guarantee decides on PostgreSQL), otherwise the money goes back.
        try:
            with transaction.atomic():
                # Ran out: marked so, or not yet (the hold job runs every minute, and not
                # at all while no worker runs) - the same checks either way.
                ran_out = appointment.status == Status.EXPIRED or (
                    appointment.hold_until is not None and appointment.hold_until <= now
                )
                if ran_out and _taken_meanwhile(appointment):
                    raise IntegrityError("taken")
                Appointment.objects.filter(pk=appointment.pk).update(
                    status=Status.CONFIRMED, hold_until=None, updated_at=now
                )
            confirmed = True
        except IntegrityError:
            confirmed = False
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.PAID, paid_at=now, stripe_payment_intent=intent, updated_at=now
    )
    payment.refresh_from_db()
    webhooks.emit(clinic.pk, WebhookEvent.PAYMENT_SUCCEEDED, payment_data(payment))
    if not confirmed:
        _refund_in_full(terms, payment, intent)
        return "refunded"
    was_held = appointment.status in (Status.PENDING, Status.EXPIRED)
    appointment.refresh_from_db()
    if not was_held:
        return "kept"  # confirmed by hand before: its confirmation went out then
    if appointment.start > now:
        outbox_appointment(appointment=appointment, kind=Kind.CONFIRMATION)
    webhooks.emit(
        clinic.pk, WebhookEvent.APPOINTMENT_STATUS_CHANGED, webhooks.appointment_data(appointment)
    )
    return "confirmed"


def _taken_meanwhile(appointment: Appointment) -> bool:
    """Whether a released hold's time went meanwhile: another booking of the staff member or
    of its room (one at a time), their time off or a closure, or the client's restriction."""
    from bookwell.bookings.services import StaffAway, _check_not_away, _overlapping

    lo, hi = appointment.block_start, appointment.block_end
    if _overlapping(staff=appointment.staff, lo=lo, hi=hi, exclude=appointment):
        return True
    if appointment.room_exclusive and _overlapping(
        room=appointment.room, lo=lo, hi=hi, exclude=appointment
    ):
        return True
    if appointment.client is not None and appointment.client.restricted:
        return True
    try:
        _check_not_away(appointment.clinic, appointment.staff, appointment.start, lo, hi)
    except StaffAway:
        return True
    return False


def _refund_in_full(terms: PaymentSettings, payment: Payment, intent: str) -> None:
    """A payment for a time that is gone goes back in full (sent by the worker)."""
    del terms, intent  # the refund reads them when it is sent
    refund_issue(
        payment=Payment.objects.get(pk=payment.pk),
        amount_cents=payment.amount_cents,
        reason=RefundReason.LATE_PAYMENT,
    )


def _unpaid(clinic: Clinic, payment: Payment, *, failed: bool) -> str:
    if payment.status != PaymentStatus.PENDING:
        return "duplicate"  # paid (a late "expired" after "completed") or released already
    now = timezone.now()
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.FAILED if failed else PaymentStatus.EXPIRED, updated_at=now
    )
    released = Appointment.objects.filter(pk=payment.appointment_id, status=Status.PENDING).update(
        status=Status.EXPIRED, updated_at=now
    )
    if released:
        appointment = Appointment.objects.get(pk=payment.appointment_id)
        webhooks.emit(
            clinic.pk,
            WebhookEvent.APPOINTMENT_STATUS_CHANGED,
            webhooks.appointment_data(appointment),
        )
    return "released"


# --- The hold job --------------------------------------------------------------------------------


def holds_expire(*, now: dt.datetime | None = None) -> int:
    """Marks expired the holds that ran out (their time is free already) and their payments,
    and closes their Checkout pages. Returns how many holds expired."""
    now = now or timezone.now()
    with platform_scope("payments: holds that ran out, every clinic"):
        due = list(
            Appointment.objects.filter(status=Status.PENDING, hold_until__lte=now)
            .values_list("clinic_id", "pk")
            .order_by("clinic_id")
        )
        # Holds released another way (by a booking that took the time, or cancelled while
        # they waited): their payments are still pending.
        stale = list(
            Payment.objects.filter(
                status=PaymentStatus.PENDING,
                appointment__status__in=[
                    Status.EXPIRED,
                    Status.CANCELLED_BY_CLIENT,
                    Status.CANCELLED_BY_CLINIC,
                ],
            ).values_list("clinic_id", "pk")
        )
    expired = 0
    for clinic_id, appointment_id in due:
        with clinic_context(clinic_id), transaction.atomic():
            # The payments first, as Stripe's events take them (one lock order, no deadlock):
            # one paid a moment ago keeps its appointment.
            locked = list(Payment.objects.select_for_update().filter(appointment_id=appointment_id))
            if any(p.status != PaymentStatus.PENDING for p in locked):
                continue
            if Appointment.objects.filter(
                pk=appointment_id, status=Status.PENDING, hold_until__lte=now
            ).update(status=Status.EXPIRED, updated_at=now):
                expired += 1
                appointment = Appointment.objects.get(pk=appointment_id)
                webhooks.emit(
                    clinic_id,
                    WebhookEvent.APPOINTMENT_STATUS_CHANGED,
                    webhooks.appointment_data(appointment),
                )
            _close_payments(clinic_id, Payment.objects.filter(appointment_id=appointment_id))
    for clinic_id, payment_id in stale:
        with clinic_context(clinic_id), transaction.atomic():
            _close_payments(clinic_id, Payment.objects.filter(pk=payment_id))
    return expired


def _close_payments(clinic_id: int, payments: Any) -> None:
    pending = list(payments.select_for_update().filter(status=PaymentStatus.PENDING))
    if not pending:
        return
    Payment.objects.filter(pk__in=[p.pk for p in pending], status=PaymentStatus.PENDING).update(
        status=PaymentStatus.EXPIRED, updated_at=timezone.now()
    )
    terms = PaymentSettings.objects.filter(clinic_id=clinic_id).first()
    sessions = [p.stripe_session_id for p in pending if p.stripe_session_id]
    if terms is None or not terms.secret_key or not sessions:
        return
    key = terms.secret_key

    def close() -> None:
        for session_id in sessions:
            # Best effort: Stripe closes it itself later, and a late payment is refunded.
            with contextlib.suppress(gateway.GatewayError):
                gateway.checkout_session_expire(secret_key=key, session_id=session_id)

    transaction.on_commit(close)


# --- Refunds and the cancellation policy ---------------------------------------------------------

REFUNDABLE = (PaymentStatus.PAID, PaymentStatus.PARTLY_REFUNDED)


def refund_issue(*, payment: Payment, amount_cents: int, reason: str) -> Refund:
    """Records money going back for a payment (in the caller's transaction) and, once that
    commits, has the worker send it to Stripe. Refused when it is more than what is left of
    the payment."""
    if amount_cents <= 0:
        raise ServiceError(_("A refund must be more than nothing."), code="refund_empty")
    with transaction.atomic():
        current = Payment.objects.select_for_update().get(pk=payment.pk)
        left = current.amount_cents - current.refunded_cents
        if current.status not in REFUNDABLE or left <= 0:
            raise Conflict(_("Nothing of this payment is left to refund."), code="refund_nothing")
        if amount_cents > left:
            raise Conflict(
                _("A refund cannot be more than what is left of the payment (%(left)s).")
                % {"left": _money(left, current.currency)},
                code="refund_too_large",
            )
        in_person = current.method == PaymentMethod.IN_PERSON
        refund = Refund.objects.create(
            clinic_id=current.clinic_id,
            payment=current,
            amount_cents=amount_cents,
            reason=reason,
            status=RefundStatus.RECORDED if in_person else RefundStatus.PENDING,
        )
        refunded = current.refunded_cents + amount_cents
        Payment.objects.filter(pk=current.pk).update(
            refunded_cents=refunded,
            status=PaymentStatus.REFUNDED
            if refunded == current.amount_cents
            else PaymentStatus.PARTLY_REFUNDED,
            updated_at=timezone.now(),
        )
        appointment = Appointment.objects.get(pk=current.appointment_id)
        current.refresh_from_db()
        webhooks.emit(
            current.clinic_id,
            WebhookEvent.PAYMENT_REFUNDED,
            {
                **payment_data(current),
                "refunded_cents": refunded,
                "refund_cents": amount_cents,
                "appointment_id": str(appointment.pk),
            },
        )
        audit(
            Action.PAYMENT_REFUNDED,
            clinic_id=current.clinic_id,
            target_kind=TargetKind.PAYMENT,
            target_id=current.pk,
            extra={"refund_reason": str(reason)},
        )
        if not in_person:
            from bookwell.payments.tasks import send_refund

            refund_id = str(refund.pk)
            transaction.on_commit(lambda: send_refund.enqueue(refund_id))
    payment.refresh_from_db()
    return refund


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:.2f} {currency}"


def payment_data(payment: Payment) -> dict[str, Any]:
    """A payment in webhook events and the API: amounts, currency, status and ids."""
    return {
        "id": str(payment.pk),
        "appointment_id": str(payment.appointment_id),
        "kind": payment.kind,
        "method": payment.method,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "status": payment.status,
        "refunded_cents": payment.refunded_cents,
    }


def refund_send(refund_id: str) -> str:
    """The worker's part: sends one pending refund to Stripe (idempotent: a retry reuses the
    same idempotency key, so Stripe refunds once). Raises GatewayError for a retry."""
    with platform_scope("worker finds a refund's clinic"):
        clinic_id = Refund.objects.filter(pk=refund_id).values_list("clinic_id", flat=True).first()
    if clinic_id is None:
        return "gone"
    with clinic_context(clinic_id):
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return "done"
        terms = PaymentSettings.objects.filter(clinic_id=clinic_id).first()
        Refund.objects.filter(pk=refund.pk).update(attempts=refund.attempts + 1)
        if terms is None or not terms.secret_key or not refund.payment.stripe_payment_intent:
            _refund_failed(refund)
            return "failed"
        try:
            stripe_id = gateway.refund_create(
                secret_key=terms.secret_key,
                payment_intent=refund.payment.stripe_payment_intent,
                amount_cents=refund.amount_cents,
                idempotency_key=f"bookwell-refund-{refund.pk}",
            )
        except gateway.GatewayError:
            if refund.attempts + 1 >= REFUND_ATTEMPTS:
                _refund_failed(refund)
            raise
        Refund.objects.filter(pk=refund.pk).update(
            status=RefundStatus.SENT, stripe_refund_id=stripe_id, sent_at=timezone.now()
        )
    return "sent"


REFUND_ATTEMPTS = 5


def _refund_failed(refund: Refund) -> None:
    """A refund Stripe never took is not money returned: the payment counts it back (staff
    see the failed refund on the appointment and can refund again)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED)
        refunded = max(payment.refunded_cents - refund.amount_cents, 0)
        Payment.objects.filter(pk=payment.pk).update(
            refunded_cents=refunded,
            status=PaymentStatus.PARTLY_REFUNDED if refunded else PaymentStatus.PAID,
            updated_at=timezone.now(),
        )
        audit(
            Action.PAYMENT_REFUNDED,
            outcome=Outcome.FAILURE,
            clinic_id=payment.clinic_id,
            target_kind=TargetKind.PAYMENT,
            target_id=payment.pk,
            extra={"refund_reason": str(refund.reason)},
        )
    logger.error("a refund failed", extra={"refund": str(refund.pk)})


def settle_cancellation(*, appointment: Appointment, by_client: bool, no_show: bool = False) -> int:
    """Applies the clinic's policy to what was paid for a cancelled or missed appointment (in
    the cancellation's transaction): the clinic cancelling, or the client cancelling before
    the service's notice window closes, gets everything back; a late cancellation or a
    no-show gets back what the clinic does not keep. Returns the cents refunded."""
    # Only what was paid online: money taken at the desk is handed back at the desk.
    paid = list(
        Payment.objects.filter(
            appointment=appointment, status__in=REFUNDABLE, method=PaymentMethod.STRIPE
        )
    )
    if not paid:
        return 0
    terms = PaymentSettings.objects.filter(clinic_id=appointment.clinic_id).first()
    keep = terms.keep_percent if terms else 100
    service = appointment.service
    closes = appointment.start - dt.timedelta(minutes=service.cancel_notice_min)
    if no_show:
        reason, share = RefundReason.NO_SHOW, 100 - keep
    elif not by_client:
        reason, share = RefundReason.CLINIC_CANCELLED, 100
    elif timezone.now() <= closes:
        reason, share = RefundReason.FREE_CANCELLATION, 100
    else:
        reason, share = RefundReason.LATE_CANCELLATION, 100 - keep
    total = 0
    for payment in paid:
        left = payment.amount_cents - payment.refunded_cents
        # The policy's share of what was paid, less what already went back.
        amount = min(left, max(0, payment.amount_cents * share // 100 - payment.refunded_cents))
        if amount > 0:
            refund_issue(payment=payment, amount_cents=amount, reason=reason)
            total += amount
    return total


# --- The staff side ------------------------------------------------------------------------------


def payment_record_in_person(*, appointment: Appointment, amount_cents: int) -> Payment:
    """Staff record that the client paid at the desk (cash, card terminal)."""
    if amount_cents <= 0:
        raise ServiceError(_("Enter the amount paid."), code="amount_empty")
    if amount_cents > 10_000_000:
        raise ServiceError(_("That amount is too large."), code="amount_too_large")
    if appointment.status not in (Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED):
        raise Conflict(_("Only a booked appointment can be paid."), code="not_payable")
    with transaction.atomic():
        payment = Payment.objects.create(
            clinic_id=appointment.clinic_id,
            appointment=appointment,
            kind=PaymentKind.FULL,
            amount_cents=amount_cents,
            currency=appointment.service.currency,
            status=PaymentStatus.PAID,
            method=PaymentMethod.IN_PERSON,
            paid_at=timezone.now(),
        )
        audit(
            Action.PAYMENT_RECORDED,
            clinic_id=appointment.clinic_id,
            target_kind=TargetKind.PAYMENT,
            target_id=payment.pk,
        )
        webhooks.emit(appointment.clinic_id, WebhookEvent.PAYMENT_SUCCEEDED, payment_data(payment))
    return payment


@dataclass(frozen=True)
class DayTotal:
    day: dt.date
    currency: str
    count: int
    paid_cents: int
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        return self.paid_cents - self.refunded_cents


def payments_between(
    clinic: Clinic, first: dt.date, last: dt.date
) -> tuple[list[Payment], list[DayTotal]]:
    """The payments received from `first` to `last` (clinic dates, inclusive), newest first,
    and the totals per day and currency: money in on the day it was paid, money back on the
    day it was refunded (a refund Stripe never took does not count)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(clinic.time_zone)
    lo = dt.datetime.combine(first, dt.time(), zone)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    rows = list(
        Payment.objects.filter(paid_at__gte=lo, paid_at__lt=hi)
        .select_related("appointment__service")
        .order_by("-paid_at")
    )
    sums: dict[tuple[dt.date, str], list[int]] = {}  # [count, paid, refunded]
    for payment in rows:
        assert payment.paid_at is not None
        cell = sums.setdefault(
            (payment.paid_at.astimezone(zone).date(), payment.currency), [0, 0, 0]
        )
        cell[0] += 1
        cell[1] += payment.amount_cents
    refunds = Refund.objects.filter(created_at__gte=lo, created_at__lt=hi).exclude(
        status=RefundStatus.FAILED
    )
    for created, currency, amount in refunds.values_list(
        "created_at", "payment__currency", "amount_cents"
    ):
        cell = sums.setdefault((created.astimezone(zone).date(), currency), [0, 0, 0])
        cell[2] += amount
    totals = [
        DayTotal(day, currency, count, paid, back)
        for (day, currency), (count, paid, back) in sorted(sums.items(), reverse=True)
    ]
    return rows, totals
