"""A clinic's payment set-up (issue 10, P13): off unless the clinic turns it on; its own Stripe
keys, sealed under the clinic's data key (P14)."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel
from bookwell.tenancy.fields import EncryptedTextField


class PaymentSettings(TenantModel):
    """One per clinic. Card data never reaches Bookwell: clients pay on Stripe's page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    enabled = models.BooleanField(default=False)
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[
            RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter currency code (ISO 4217)."))
        ],
    )
    # The clinic's own Stripe account: a restricted or secret key, and its webhook endpoint's
    # signing secret. Sealed; shown again only as their last four characters.
    secret_key = EncryptedTextField(blank=True, default="")
    webhook_secret = EncryptedTextField(blank=True, default="")
    # How long a time stays held for a client who is paying (then it is free again).
    hold_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(60)]
    )
    # The cancellation policy: a client who cancels inside the service's notice window, or
    # does not come, forfeits this share of what they paid; the rest goes back.
    keep_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    key_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic"], name="payment_settings_one_per_clinic"),
            models.CheckConstraint(
                condition=models.Q(keep_percent__lte=100), name="payment_settings_keep_share"
            ),
            models.CheckConstraint(
                condition=models.Q(hold_minutes__gte=5, hold_minutes__lte=60),
                name="payment_settings_hold_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"payment settings {self.pk}"


class PaymentKind(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    FULL = "full", _("Full price")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for payment")
    PAID = "paid", _("Paid")
    EXPIRED = "expired", _("Not paid in time")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")


class PaymentMethod(models.TextChoices):
    STRIPE = "stripe", _("Online (Stripe)")
    IN_PERSON = "in_person", _("In person")


class Payment(TenantModel):
    """What a client paid (or owes) for one appointment: amounts, currency, status and the
    provider's ids, never card data or anything the client typed on the provider's page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.CASCADE, related_name="payments"
    )
    kind = models.CharField(max_length=8, choices=PaymentKind.choices)
    amount_cents = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    method = models.CharField(
        max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.STRIPE
    )
    refunded_cents = models.PositiveIntegerField(default=0)
    stripe_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True)
    # Where the client pays (Stripe's hosted page); kept until it is paid or expires.
    checkout_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["clinic", "status", "created_at"], name="payment_by_status")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_cents__lte=models.F("amount_cents")),
                name="payment_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk}"


class RefundReason(models.TextChoices):
    CLINIC_CANCELLED = "clinic_cancelled", _("Cancelled by the clinic")
    FREE_CANCELLATION = "free_cancellation", _("Cancelled in time")
    LATE_CANCELLATION = "late_cancellation", _("Cancelled late: the share the policy returns")
    NO_SHOW = "no_show", _("Did not come: the share the policy returns")
    LATE_PAYMENT = "late_payment", _("Paid after the time was released")
    STAFF = "staff", _("Refunded by staff")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Being sent")
    SENT = "sent", _("Refunded")
    FAILED = "failed", _("Failed")
    RECORDED = "recorded", _("Paid back in person")


class Refund(TenantModel):
    """Money going back: recorded in the action's transaction, sent to Stripe by the worker
    (with retries) after it commits."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="refunds")
    amount_cents = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    reason = models.CharField(max_length=20, choices=RefundReason.choices)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gte=1), name="refund_positive")
        ]

    def __str__(self) -> str:
        return f"refund {self.pk}"
