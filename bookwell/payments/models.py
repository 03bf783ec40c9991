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
    key_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic"], name="payment_settings_one_per_clinic"),
            models.CheckConstraint(
                condition=models.Q(hold_minutes__gte=5, hold_minutes__lte=60),
                name="payment_settings_hold_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"payment settings {self.pk}"
