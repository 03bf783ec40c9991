from __future__ import annotations

import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel
from bookwell.core.validators import validate_single_line
from bookwell.tenancy.permissions import ROLE_CHOICES, Role

RESERVED_SLUGS = frozenset(
    {"admin", "api", "app", "book", "c", "static", "media", "signin", "signup", "www", "invite"}
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Choose a time zone from the list."), code="time_zone")


def validate_slug(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(_("This address is reserved; choose another."), code="reserved")


def validate_origin(value: str) -> None:
    """One origin per line, such as https://www.example-clinic.de (P19: no wildcards)."""
    for line in value.splitlines():
        line = line.strip()
        if line and not re.fullmatch(r"https://[a-z0-9.-]+(?::[0-9]{1,5})?", line):
            raise ValidationError(
                _("List origins one per line, like https://www.example.com (no path, no *)."),
                code="origin",
            )


class BookingContact(models.TextChoices):
    EMAIL = "email", _("Email address")
    PHONE = "phone", _("Phone number")
    EITHER = "either", _("Email or phone number")
    BOTH = "both", _("Email and phone number")


def default_plan() -> str:
    return str(settings.DEFAULT_PLAN)


class Clinic(models.Model):
    """A tenant: the customer that owns its clients' data."""

    name = models.CharField(max_length=120, validators=[validate_single_line])
    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", _("Use a-z, 0-9 and dashes.")),
            validate_slug,
        ],
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    country = models.CharField(
        max_length=2,
        default="DE",
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter country code (ISO 3166)."))],
    )
    locale = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    contact_email = models.EmailField(max_length=254, blank=True)
    # A plan of settings.PLANS (tenancy.plans): what the clinic's allowances are (P9). Only
    # the operator changes it (tenancy.plans.clinic_plan_change checks the name); a plan
    # taken out of the settings later counts as the default one, and the clinic's own pages
    # keep working.
    plan = models.CharField(max_length=20, default=default_plan)
    require_mfa_for_admins = models.BooleanField(
        default=False,
        help_text=_("Owners and admins must use an authenticator app to open this clinic."),
    )
    # Client records (P4): what this clinic collects and allows.
    client_email_unique = models.BooleanField(
        default=True, help_text=_("Refuse a second client with the same email address.")
    )
    collect_date_of_birth = models.BooleanField(
        default=False, help_text=_("Ask for clients' date of birth.")
    )
    waitlist_offer_minutes = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)],
        help_text=_("How long a waitlist offer stays open before it passes to the next."),
    )
    allow_pseudonyms = models.BooleanField(
        default=False,
        help_text=_("Clients may give initials or a pseudonym instead of a full name."),
    )
    # Online booking (the public page at /book/<slug>/).
    online_booking = models.BooleanField(
        default=True, help_text=_("Clients can book on the clinic's public booking page.")
    )
    booking_contact = models.CharField(
        max_length=10,
        choices=BookingContact.choices,
        default=BookingContact.EMAIL,
        help_text=_("What clients must give when they book online."),
    )
    require_consent = models.BooleanField(
        default=False,
        help_text=_("Clients must accept the clinic's privacy notice to book online (P18)."),
    )
    embed_origins = models.TextField(
        blank=True,
        validators=[validate_origin],
        help_text=_("Websites that may show the booking page in a frame, one origin per line."),
    )
    brand_colour = models.CharField(
        max_length=7,
        default="#1f6f5c",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6f5c."))],
    )
    # Notifications: SMS only where the clinic turns it on; no reminders in quiet hours.
    sms_enabled = models.BooleanField(
        default=False, help_text=_("Send SMS to clients who gave a number and did not opt out.")
    )
    quiet_start = models.TimeField(
        null=True, blank=True, help_text=_("No reminders from this time (clinic time)…")
    )
    quiet_end = models.TimeField(null=True, blank=True, help_text=_("…until this time."))
    # Each staff member with a sign-in gets the day's appointments by email at this time
    # (clinic clock); empty: no agenda.
    agenda_at = models.TimeField(null=True, blank=True)
    logo = models.BinaryField(null=True, blank=True, editable=False)  # PNG, JPEG or WebP
    logo_content_type = models.CharField(max_length=20, blank=True, editable=False)
    # Defaults for new services; the settings page can also apply them to every service.
    default_min_notice_min = models.PositiveIntegerField(
        default=120, validators=[MaxValueValidator(366 * 24 * 60)]
    )
    default_max_advance_days = models.PositiveSmallIntegerField(
        default=90, validators=[MaxValueValidator(5 * 366)]
    )
    default_cancel_notice_min = models.PositiveIntegerField(
        default=24 * 60, validators=[MaxValueValidator(366 * 24 * 60)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The owner asked for the clinic to be deleted (P16): it is purged at this time unless the
    # request is cancelled before. Empty: no deletion pending.
    deletion_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    deletion_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # Reminders sent to the owners while the deletion is pending (a week before, a day before).
    deletion_reminders = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.slug


class Membership(TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic", "user"], name="membership_one_per_clinic"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_valid_role"
            ),
        ]

    def __str__(self) -> str:
        return f"membership {self.pk}"


class Invitation(TenantModel):
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(Lower("email"), "clinic", name="invitation_email")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="invitation_valid_role"
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk}"


class ClinicKey(TenantModel):
    """A clinic's data key, stored only wrapped under an operator master key (P14, P16).

    Versions grow by one at each rotation; fields name the version that sealed them. Deleting
    every version of a clinic's keys makes its ciphertexts unreadable, backups included.
    """

    version = models.PositiveIntegerField()
    # Random and never reused (even if a transaction that created a key rolls back), so a
    # process may cache unwrapped keys by it; ciphertexts name the key by it.
    uid = models.CharField(max_length=32, unique=True)
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=32)
    # 1: wrapped under the master key alone; 2: under a key derived from the master key and
    # this key's secret in the keystore, outside the database (tenancy.keystore, P16).
    wrap_version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["clinic", "version"], name="clinic_key_version_unique"),
        ]

    def __str__(self) -> str:
        return f"clinic key {self.clinic_id}/{self.version}"


class Allowance(models.TextChoices):
    """What a plan limits (P9); audit retention is a plan term too, but not a counter."""

    STAFF_SEATS = "staff_seats", _("Staff members")
    BOOKINGS_PER_MONTH = "bookings_per_month", _("Appointments booked this month")
    SMS_PER_MONTH = "sms_per_month", _("Text messages this month")
    API_CALLS_PER_DAY = "api_calls_per_day", _("API calls today")


class PlanUsage(TenantModel):
    """How much of a counted allowance a clinic has used in one period (a month or a day,
    UTC). The row is locked while an action counts itself in, so concurrent actions cannot
    together go past the allowance (tenancy.plans.plan_use). Staff seats use a row with a
    fixed period as their lock and count the staff members themselves."""

    allowance = models.CharField(max_length=32, choices=Allowance.choices)
    period = models.DateField()
    used = models.PositiveBigIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "allowance", "period"], name="plan_usage_once"
            )
        ]
