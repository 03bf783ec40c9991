"""API tokens: a clinic's integrations sign in with these (issue: REST API v1).

The secret is shown once when the token is made; only its SHA-256 is stored, with a short
visible prefix so people can tell their tokens apart. A 256-bit random secret needs no slow
hash: nothing can be guessed from the digest.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel
from bookwell.tenancy.fields import EncryptedTextField


class ApiToken(TenantModel):
    name = models.CharField(max_length=80)
    # The token's first characters after "bw_", shown in lists; unique, so lookups use it.
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)  # SHA-256 of the whole token, hex
    scopes = models.JSONField(default=list)  # Scope values
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_on = models.DateField(null=True, blank=True)  # a date: one write a day at most
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "created_at"], name="apitoken_by_clinic")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="apitoken_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        return f"api token {self.prefix}"


class WebhookEvent(models.TextChoices):
    APPOINTMENT_CREATED = "appointment.created", _("Appointment booked")
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled", _("Appointment moved")
    APPOINTMENT_CANCELLED = "appointment.cancelled", _("Appointment cancelled")
    APPOINTMENT_STATUS_CHANGED = "appointment.status_changed", _("Appointment status changed")
    CLIENT_CREATED = "client.created", _("Client record created")
    CLIENT_UPDATED = "client.updated", _("Client record changed")
    WAITLIST_OFFER_ACCEPTED = "waitlist.offer_accepted", _("Waitlist offer accepted")
    PAYMENT_SUCCEEDED = "payment.succeeded", _("Payment received")
    PAYMENT_REFUNDED = "payment.refunded", _("Payment refunded")


class WebhookEndpoint(TenantModel):
    """Where a clinic wants to hear about changes. The signing secret is sealed with the
    clinic's data key (P14) and shown once; contact details go out only if turned on (P13)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # WebhookEvent values
    secret = EncryptedTextField()
    include_contact = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    # Why it was switched off by Bookwell (repeated failures), blank when by the clinic.
    disabled_reason = models.CharField(max_length=20, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    key_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "active"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return f"webhook endpoint {self.pk}"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Being sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TenantModel):
    """One event for one endpoint: the outbox row and, once done, its log line.

    The payload holds ids, times and statuses (no personal data; contact details, where an
    endpoint asked for them, are read when sending and never stored), so it can be sent
    again; the log keeps the status code, duration and attempts, never a response body."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField()  # the same for every endpoint told about one event
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)  # a class or code, never text
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["endpoint", "id"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhook_delivery_open",
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"webhook delivery {self.pk}"
