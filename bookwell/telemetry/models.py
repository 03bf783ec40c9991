"""Usage telemetry (P8): how often each feature is used, per clinic and day, and nothing else.

A row is a clinic, a feature from a fixed list, a day and a count. There is no user, client,
appointment or free-text column (a schema test holds that), so a counter cannot say who did
something or to whom. Days older than the daily window are rolled up into months.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel


class Feature(models.TextChoices):
    BOOKING_CREATED = "booking_created", _("Appointments booked")
    BOOKING_RESCHEDULED = "booking_rescheduled", _("Appointments moved")
    BOOKING_CANCELLED = "booking_cancelled", _("Appointments cancelled")
    REMINDER_SENT = "reminder_sent", _("Reminders sent")
    EMAIL_SENT = "email_sent", _("Emails sent")
    SMS_SENT = "sms_sent", _("Text messages sent")
    CLIENT_EXPORT = "client_export", _("Client exports")
    CLIENT_IMPORT = "client_import", _("Client imports")
    API_APPOINTMENTS = "api_appointments", _("API calls: appointments")
    API_CLIENTS = "api_clients", _("API calls: clients")
    API_SCHEDULE = "api_schedule", _("API calls: schedule")
    API_ADMIN = "api_admin", _("API calls: integrations")


class UsageDay(TenantModel):
    """How many times a feature was used in a clinic on one day (UTC)."""

    feature = models.CharField(max_length=32, choices=Feature.choices)
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic", "feature", "day"], name="usage_day_once")
        ]
        indexes = [models.Index(fields=["day"], name="usage_day_day")]


class UsageMonth(TenantModel):
    """Days past the daily window, summed per month (`month` is its first day)."""

    feature = models.CharField(max_length=32, choices=Feature.choices)
    month = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic", "feature", "month"], name="usage_month_once")
        ]
