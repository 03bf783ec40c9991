"""Notifications: what is due to be sent, and what happened when it was (P12, P13).

A delivery row is written in the same transaction as the event it tells about (a booking, a
move, a cancellation) or by the reminder scan: the database is the outbox, so a crash never
loses a message that was due. The row holds metadata only (kind, channel, times, status,
attempts, the provider's message id, an error code); the text is rendered from the clinic's
template when it is sent and kept nowhere (P12).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel


class Kind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Booking confirmation")
    REMINDER = "reminder", _("Reminder")
    RESCHEDULE = "reschedule", _("Moved appointment")
    CANCELLATION = "cancellation", _("Cancellation")
    WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
    AGENDA = "agenda", _("Daily agenda for staff")


# What clients receive (each with a clinic-editable text); the agenda goes to staff.
CLIENT_KINDS = [k for k in Kind if k != Kind.AGENDA]


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")


class SkipReason(models.TextChoices):
    """Why a delivery was not sent: a fixed list, never free text (P7)."""

    NO_ADDRESS = "no_address", _("The client has no address for this channel")
    RESTRICTED = "restricted", _("The client's record is restricted")
    NO_CLIENT = "no_client", _("The appointment has no client")
    NOT_CURRENT = "not_current", _("The appointment changed or was cancelled since")
    TOO_LATE = "too_late", _("It was due too long ago")
    SMS_OFF = "sms_off", _("The clinic does not send SMS")
    OPTED_OUT = "opted_out", _("The client asked not to get SMS")
    PERMANENT = "permanent", _("The provider refused it for good")
    PLAN_LIMIT = "plan_limit", _("The clinic's plan has no text messages left this month")


class Delivery(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    appointment = models.ForeignKey(
        "bookings.Appointment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    waitlist_offer = models.ForeignKey(
        "bookings.WaitlistOffer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # A staff member's daily agenda (key: the clinic-local date it covers).
    staff = models.ForeignKey(
        "scheduling.StaffMember",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # For reminders: the rule's offset ("1440" minutes before); for a move: the appointment's
    # sequence. With the kind and channel it makes each message unique (no double reminders).
    key = models.CharField(max_length=40, default="")
    # What the message describes (a reminder for a moved appointment is void).
    about_start = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker that claimed the row holds it until then; after that another may take it over
    # (the first one died): at most one duplicate per crash.
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=60, blank=True)  # a class or code, never text
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "channel", "key"],
                condition=Q(appointment__isnull=False),
                name="delivery_once_per_appointment",
            ),
            models.UniqueConstraint(
                fields=["waitlist_offer", "kind", "channel"],
                condition=Q(waitlist_offer__isnull=False),
                name="delivery_once_per_offer",
            ),
            models.UniqueConstraint(
                fields=["staff", "kind", "channel", "key"],
                condition=Q(staff__isnull=False),
                name="delivery_once_per_staff_day",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_due",
            ),
            models.Index(fields=["clinic", "status", "created_at"], name="delivery_by_status"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk}"


class MessageTemplate(TenantModel):
    """A clinic's own wording for one kind, channel and language (the built-in one otherwise).
    Placeholders are checked when saved; unknown ones are refused."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8)
    subject = models.CharField(max_length=200, blank=True)  # email only
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "channel", "language"], name="one_template_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"template {self.kind}/{self.channel}/{self.language}"


class ReminderRule(TenantModel):
    """Remind this many minutes before the start, by this channel. Quiet hours (clinic time)
    move a reminder that would fall inside them to the end of the quiet time, or earlier to
    its start when the end would be after the appointment."""

    minutes_before = models.PositiveIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    active = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "minutes_before", "channel"], name="one_rule_per_offset"
            ),
            models.CheckConstraint(
                condition=Q(minutes_before__gte=10) & Q(minutes_before__lte=60 * 24 * 14),
                name="reminder_offset_range",
            ),
        ]

    def __str__(self) -> str:
        return f"reminder {self.minutes_before} min {self.channel}"


class CalendarFeed(TenantModel):
    """A staff member's calendar subscription: a secret URL (only its hash is kept) that
    calendar apps poll. It shows service, times and client initials, nothing more. Revoked
    feeds answer 404 at once."""

    staff = models.ForeignKey("scheduling.StaffMember", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["staff"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_feed_per_staff",
            )
        ]

    def __str__(self) -> str:
        return f"feed {self.pk}"
