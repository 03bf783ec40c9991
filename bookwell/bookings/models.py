"""Appointments: the bookings themselves, and the rules that keep them from overlapping."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel, Tracked
from bookwell.scheduling.models import (
    MAX_BUFFER_MIN,
    MAX_DURATION_MIN,
    Room,
    Service,
    StaffMember,
)
from bookwell.tenancy.fields import EncryptedTextField


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("No-show")
    CANCELLED_BY_CLIENT = "cancelled_client", _("Cancelled by client")
    CANCELLED_BY_CLINIC = "cancelled_clinic", _("Cancelled by clinic")
    # A time held for a client paying online that was not paid in time (issue 10).
    EXPIRED = "expired", _("Not paid in time")


# The longest block a booking can hold (its service's bounds): a booking overlapping a window
# starts less than this before the window does.
LONGEST_BLOCK = dt.timedelta(minutes=MAX_DURATION_MIN + 2 * MAX_BUFFER_MIN)

# Statuses that hold the time (everything but a cancellation).
BLOCKING = [
    Status.PENDING,
    Status.CONFIRMED,
    Status.CHECKED_IN,
    Status.COMPLETED,
    Status.NO_SHOW,
]


def holds_time(now: dt.datetime) -> Q:
    """Bookings that hold their time at `now`: a blocking status, and not a hold for an online
    payment that has run out (issue 10)."""
    return Q(status__in=BLOCKING) & (Q(hold_until__isnull=True) | Q(hold_until__gt=now))


class OverrideReason(models.TextChoices):
    """Why staff changed an appointment inside the client's notice window (no free text, P7)."""

    ILLNESS = "illness", _("Illness")
    EMERGENCY = "emergency", _("Emergency")
    CLINIC_REQUEST = "clinic_request", _("The clinic asked")
    GOODWILL = "goodwill", _("Goodwill")


class CancelReason(models.TextChoices):
    """Why an appointment was cancelled: a category, never free text (P7)."""

    CLIENT_REQUEST = "client_request", _("The client asked")
    ILLNESS = "illness", _("Illness")
    SCHEDULING = "scheduling", _("Scheduling conflict")
    CLINIC_CLOSED = "clinic_closed", _("The clinic is closed")
    OTHER = "other", _("Other")


class Source(models.TextChoices):
    ONLINE = "online", _("Online")
    STAFF = "staff", _("Staff")
    API = "api", _("API")


class RecurringSeries(TenantModel):
    """Weekly or every N weeks at the same local time, for a count or until a date."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_zone = models.CharField(max_length=64)
    first_start = models.DateTimeField()
    every_weeks = models.PositiveSmallIntegerField(default=1)
    count = models.PositiveSmallIntegerField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    # Local dates left out (conflicts skipped at booking, or cancelled occurrences).
    exceptions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(count__isnull=False) | Q(until__isnull=False), name="series_has_an_end"
            ),
            models.CheckConstraint(condition=Q(every_weeks__gte=1), name="series_interval"),
        ]

    def __str__(self) -> str:
        return f"series {self.pk}"


class Appointment(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set when the room takes one booking at a time: the database then refuses overlaps.
    room_exclusive = models.BooleanField(default=False)
    # A seat in a class (a service with capacity above 1): seats of one class share their time,
    # counted under the staff row lock instead of the exclusion constraint.
    group_seat = models.BooleanField(default=False)
    # Equal only among the seats of one class; the exclusion constraint refuses overlaps of rows
    # whose keys differ, so classes are inside the database's guarantee too.
    overlap_key = models.CharField(max_length=80, default="")
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # The time the booking holds, buffers included: what may not overlap.
    block_start = models.DateTimeField()
    block_end = models.DateTimeField()
    # A pending appointment held while the client pays online: free again after this moment
    # (availability treats it as free at once; the hold job marks it expired).
    hold_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    override_reason = models.CharField(max_length=20, choices=OverrideReason.choices, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    # The client's manage link: only a hash of the token is stored; the token itself is an HMAC
    # of the id and this salt under the server's secret, so later emails can carry the same
    # link; a new salt revokes it.
    manage_salt = models.CharField(max_length=32, blank=True)
    manage_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    note = EncryptedTextField(blank=True, default="")
    series = models.ForeignKey(
        RecurringSeries,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    key_version = models.PositiveIntegerField(default=0)
    # Raised on every move: calendar invitations (SEQUENCE) replace the older copy.
    sequence = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        indexes = [
            # A staff member's bookings overlapping a window: the stretch of starts that could
            # reach it (LONGEST_BLOCK), each row's end checked in the index itself, so only the
            # overlapping rows are read from the table (a busy day held dozens of rows the
            # reads fetched and threw away: bench/api_load.py).
            models.Index(
                fields=["clinic", "staff", "block_start", "block_end"],
                name="appointment_staff_time",
            ),
            models.Index(fields=["clinic", "start"], name="appointment_time"),
            # The API's pages and incremental sync (updated_since): by change, then id.
            models.Index(fields=["clinic", "updated_at", "id"], name="appointment_by_change"),
            # The bookings in a room during a window (availability of services with rooms).
            models.Index(
                fields=["clinic", "room", "block_start", "block_end"],
                condition=Q(room__isnull=False),
                name="appointment_room_time",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="appointment_order"),
            models.CheckConstraint(
                condition=Q(block_start__lte=F("start")) & Q(block_end__gte=F("end")),
                name="appointment_block_covers",
            ),
            models.UniqueConstraint(
                fields=["clinic", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="appointment_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered a time")
    BOOKED = "booked", _("Booked")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WaitlistEntry(Tracked, TenantModel):
    """A client waiting for a service (optionally with one staff member) between two dates."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    status = models.CharField(
        max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    # The client's link to see and accept offers, or leave the list (as for appointments).
    manage_salt = models.CharField(max_length=32, blank=True)
    manage_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["clinic", "service", "status", "created_at"], name="waitlist_line")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(first_day__lte=F("last_day")), name="waitlist_range")
        ]

    def __str__(self) -> str:
        return f"waitlist entry {self.pk}"


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")


class WaitlistOffer(TenantModel):
    """A freed time offered to one waiting client until it expires."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "status", "expires_at"], name="offer_expiry")]

    def __str__(self) -> str:
        return f"waitlist offer {self.pk}"


class CalendarStamp(models.Model):
    """A clinic's calendar version: database triggers (migration 0010) raise it in the same
    transaction as any change to what the calendar draws (appointments, staff, rooms,
    locations, services, hours, overrides, time off, closures, client names), whatever code
    or SQL made the change. Cached grids are keyed by it, so a cached grid is never older than
    the version it was read at.

    Holds no personal data (a clinic id and a counter), so it has no row-level policy: the
    triggers must raise it whatever clinic scope the writing connection carries.
    """

    clinic = models.OneToOneField(
        "tenancy.Clinic", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"calendar stamp {self.clinic_id}: {self.version}"
