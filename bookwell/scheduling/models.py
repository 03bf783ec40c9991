"""Where, who, what and when: locations, rooms, staff, services, working rules, appointments."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel, Tracked
from bookwell.core.validators import validate_single_line
from bookwell.tenancy.models import validate_time_zone

MAX_NOTICE_MIN = 366 * 24 * 60  # a year
MAX_ADVANCE_DAYS = 5 * 366  # five years
# A service lasts at most a day, with at most four hours' buffer either side: every booking's
# block is bounded, which lets availability read one window of bookings from an index.
MAX_DURATION_MIN = 24 * 60
MAX_BUFFER_MIN = 240


class Location(Tracked, TenantModel):
    name = models.CharField(max_length=120, validators=[validate_single_line])
    address = models.CharField(max_length=300, blank=True, validators=[validate_single_line])
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    archived = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return f"location {self.pk}"


class Room(Tracked, TenantModel):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=120, validators=[validate_single_line])
    capacity = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    archived = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(capacity__gte=1), name="room_capacity")]

    def __str__(self) -> str:
        return f"room {self.pk}"


class StaffMember(Tracked, TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    display_name = models.CharField(max_length=120, validators=[validate_single_line])
    bookable = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["display_name"]

    def __str__(self) -> str:
        return f"staff {self.pk}"


class AssignmentPolicy(models.TextChoices):
    LEAST_BOOKED = "least_booked", _("Least booked that day")
    ROUND_ROBIN = "round_robin", _("Round robin")


class PaymentTerms(models.TextChoices):
    NONE = "none", _("No payment online")
    DEPOSIT_FIXED = "deposit_fixed", _("A deposit (fixed amount)")
    DEPOSIT_PERCENT = "deposit_percent", _("A deposit (share of the price)")
    FULL = "full", _("The full price in advance")


class Service(Tracked, TenantModel):
    name = models.CharField(max_length=120, validators=[validate_single_line])
    duration_min = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(MAX_DURATION_MIN)]
    )
    buffer_before_min = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_BUFFER_MIN)]
    )
    buffer_after_min = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_BUFFER_MIN)]
    )
    price_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="EUR")
    # What a client pays online when booking, where the clinic takes payments (issue 10).
    payment = models.CharField(
        max_length=16, choices=PaymentTerms.choices, default=PaymentTerms.NONE
    )
    deposit_cents = models.PositiveIntegerField(default=0)
    deposit_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)]
    )
    slot_interval_min = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    # Bounded so that "now + the window" stays a date a calendar can show (every database).
    min_notice_min = models.PositiveIntegerField(
        default=120, validators=[MaxValueValidator(MAX_NOTICE_MIN)]
    )
    max_advance_days = models.PositiveSmallIntegerField(
        default=90, validators=[MaxValueValidator(MAX_ADVANCE_DAYS)]
    )
    cancel_notice_min = models.PositiveIntegerField(
        default=24 * 60, validators=[MaxValueValidator(MAX_NOTICE_MIN)]
    )
    reschedule_notice_min = models.PositiveIntegerField(
        default=24 * 60, validators=[MaxValueValidator(MAX_NOTICE_MIN)]
    )
    online_bookable = models.BooleanField(default=True)
    # Who gets a client who has no preference.
    assignment_policy = models.CharField(
        max_length=20, choices=AssignmentPolicy.choices, default=AssignmentPolicy.LEAST_BOOKED
    )
    capacity = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )  # above 1: a class with seats
    # Through models carry the clinic too: every tenant row is under row-level security (P1).
    staff = models.ManyToManyField(
        StaffMember, related_name="services", blank=True, through="ServiceStaff"
    )
    rooms = models.ManyToManyField(
        Room, related_name="services", blank=True, through="ServiceRoom"
    )  # any one of
    archived = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_min__gte=5), name="service_duration"),
            models.CheckConstraint(
                condition=Q(duration_min__lte=MAX_DURATION_MIN)
                & Q(buffer_before_min__lte=MAX_BUFFER_MIN)
                & Q(buffer_after_min__lte=MAX_BUFFER_MIN),
                name="service_block_bounded",
            ),
            models.CheckConstraint(condition=Q(slot_interval_min__gte=5), name="service_interval"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="service_capacity"),
        ]

    def __str__(self) -> str:
        return f"service {self.pk}"


class ServiceStaff(TenantModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["service", "staff"], name="service_staff_once")
        ]

    def __str__(self) -> str:
        return f"service staff {self.pk}"


class ServiceRoom(TenantModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    room = models.ForeignKey(Room, on_delete=models.CASCADE)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["service", "room"], name="service_room_once")
        ]

    def __str__(self) -> str:
        return f"service room {self.pk}"


class WorkingHours(TenantModel):
    """One interval of a staff member's week, in the location's wall-clock time."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="hours")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])  # Monday = 0
    start_min = models.PositiveSmallIntegerField(validators=[MaxValueValidator(1439)])
    end_min = models.PositiveSmallIntegerField(validators=[MaxValueValidator(1440)])

    class Meta(TenantModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(start_min__lt=F("end_min")), name="hours_order"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"hours {self.pk}"


class DateOverride(Tracked, TenantModel):
    """Other hours on one date (intervals), or closed (no intervals)."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="overrides")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    intervals = models.JSONField(default=list, blank=True)  # [[start_min, end_min], ...]

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["staff", "date"], name="override_one_per_day")
        ]

    def __str__(self) -> str:
        return f"override {self.pk}"

    def clean(self) -> None:
        """Intervals are [start_min, end_min] pairs within the day, in order, not overlapping."""
        from django.core.exceptions import ValidationError

        pairs = self.intervals if isinstance(self.intervals, list) else None
        ok = pairs is not None and all(
            isinstance(p, list | tuple)
            and len(p) == 2
            and all(isinstance(x, int) for x in p)
            and 0 <= p[0] < p[1] <= 1440
            for p in pairs
        )
        if ok and pairs:
            ordered = sorted(pairs)
            ok = all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))
        if not ok:
            raise ValidationError(
                {"intervals": [_("Give times within the day that do not overlap.")]}
            )


class TimeOffCategory(models.TextChoices):
    VACATION = "vacation", _("Vacation")
    SICK = "sick", _("Sick leave")
    TRAINING = "training", _("Training")
    OTHER = "other", _("Other")


class TimeOff(Tracked, TenantModel):
    """Unavailable from start to end (UTC). A category, never free text (P7)."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    category = models.CharField(max_length=10, choices=TimeOffCategory.choices)

    class Meta(TenantModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="time_off_order")
        ]

    def __str__(self) -> str:
        return f"time off {self.pk}"


class ClinicClosure(Tracked, TenantModel):
    """Whole days the clinic is closed (holidays), inclusive."""

    first_day = models.DateField()
    last_day = models.DateField()
    label = models.CharField(max_length=80, blank=True, validators=[validate_single_line])

    class Meta(TenantModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(first_day__lte=F("last_day")), name="closure_order")
        ]

    def __str__(self) -> str:
        return f"closure {self.pk}"
