"""Forms for the clinic's catalogue (services, staff, locations, rooms) and schedules."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bookwell.accounts.models import User
from bookwell.core.dates import DayField, MomentField
from bookwell.scheduling.models import (
    ClinicClosure,
    Location,
    PaymentTerms,
    Room,
    Service,
    StaffMember,
    TimeOffCategory,
)
from bookwell.tenancy.forms import TIME_ZONE_CHOICES
from bookwell.tenancy.models import Clinic

WEEKDAYS = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")


def parse_intervals(text: str) -> list[tuple[int, int]]:
    """ "09:00-12:00, 13:00-17:00" -> [(540, 720), (780, 1020)]; empty text -> [].

    Raises ValueError with a message people can act on."""
    out: list[tuple[int, int]] = []
    for part in [p for p in re.split(r"[,;]", text) if p.strip()]:
        match = _INTERVAL.match(part)
        if not match:
            raise ValueError(_("Write times like 09:00-12:00, 13:00-17:00."))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(_("%(text)s is not a time of day.") % {"text": part.strip()})
        a, b = h1 * 60 + m1, h2 * 60 + m2
        if b <= a:
            raise ValueError(_("%(text)s ends before it starts.") % {"text": part.strip()})
        out.append((a, b))
    out.sort()
    for (_a1, b1), (a2, _b2) in itertools.pairwise(out):
        if a2 < b1:
            raise ValueError(_("Two of these times overlap."))
    return out


def format_intervals(pairs: list[tuple[int, int]] | list[list[int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in pairs)


class NamedChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        if isinstance(obj, StaffMember):
            return obj.display_name
        if isinstance(obj, Room):
            return f"{obj.name} ({obj.location.name})"
        return str(getattr(obj, "name", obj))


# Currencies without cents (Stripe counts them in whole units): not offered for online payment.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
# Three decimal places: Stripe counts thousandths; not offered either.
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
MIN_ONLINE_AMOUNT = Decimal("0.50")  # Stripe's smallest charge in most currencies
# Stripe's smallest charge where it is not 0.50.
MIN_ONLINE_AMOUNTS = {
    "GBP": Decimal("0.30"),
    "DKK": Decimal("2.50"),
    "NOK": Decimal("3.00"),
    "SEK": Decimal("3.00"),
    "PLN": Decimal("2.00"),
    "CZK": Decimal("15.00"),
    "HUF": Decimal("175.00"),
    "HKD": Decimal("4.00"),
    "MXN": Decimal("10.00"),
    "AED": Decimal("2.00"),
}


class ServiceForm(forms.ModelForm):
    price = forms.DecimalField(
        label=_("Price"), min_value=Decimal(0), max_value=Decimal(100000), decimal_places=2
    )
    deposit = forms.DecimalField(
        label=_("Deposit (fixed amount)"),
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100000),
        decimal_places=2,
        help_text=_("Where clients pay a fixed deposit online."),
    )
    staff = NamedChoice(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, label=_("Performed by")
    )
    rooms = NamedChoice(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Takes place in (any one of; none: needs no room)"),
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "duration_min",
            "buffer_before_min",
            "buffer_after_min",
            "currency",
            "slot_interval_min",
            "min_notice_min",
            "max_advance_days",
            "cancel_notice_min",
            "reschedule_notice_min",
            "online_bookable",
            "assignment_policy",
            "capacity",
            "payment",
            "deposit_percent",
        ]
        labels = {
            "duration_min": _("Duration (minutes)"),
            "buffer_before_min": _("Buffer before (minutes)"),
            "buffer_after_min": _("Buffer after (minutes)"),
            "slot_interval_min": _("Start times every (minutes)"),
            "min_notice_min": _("Minimum notice (minutes)"),
            "max_advance_days": _("Bookable up to (days ahead)"),
            "cancel_notice_min": _("Clients may cancel until (minutes before)"),
            "reschedule_notice_min": _("Clients may reschedule until (minutes before)"),
            "online_bookable": _("Bookable online"),
            "capacity": _("Places (above 1: a class)"),
            "payment": _("Online payment at booking (where the clinic takes payments)"),
            "deposit_percent": _("Deposit (% of the price)"),
        }

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = StaffMember.objects.filter(archived=False).order_by(  # type: ignore[attr-defined]
            "display_name"
        )
        self.fields["rooms"].queryset = (  # type: ignore[attr-defined]
            Room.objects.filter(archived=False).select_related("location").order_by("name")
        )
        # Optional in what is posted (older forms, scripts): none, and no percentage.
        self.fields["payment"].required = False
        self.fields["deposit_percent"].required = False
        if self.instance.pk:
            self.fields["price"].initial = Decimal(self.instance.price_cents) / 100
            self.fields["deposit"].initial = Decimal(self.instance.deposit_cents) / 100
            self.fields["staff"].initial = list(self.instance.staff.values_list("pk", flat=True))
            self.fields["rooms"].initial = list(self.instance.rooms.values_list("pk", flat=True))
        else:
            self.fields["price"].initial = Decimal(0)
            self.initial["min_notice_min"] = clinic.default_min_notice_min
            self.initial["max_advance_days"] = clinic.default_max_advance_days
            self.initial["cancel_notice_min"] = clinic.default_cancel_notice_min
            self.initial["reschedule_notice_min"] = clinic.default_cancel_notice_min

    def clean_payment(self) -> str:
        return str(self.cleaned_data.get("payment") or PaymentTerms.NONE)

    def clean_deposit_percent(self) -> int:
        return int(self.cleaned_data.get("deposit_percent") or 0)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        terms, price = data.get("payment"), data.get("price") or Decimal(0)
        if terms == PaymentTerms.DEPOSIT_FIXED and not data.get("deposit"):
            self.add_error("deposit", _("Give the deposit's amount."))
        if terms == PaymentTerms.DEPOSIT_PERCENT and not (data.get("deposit_percent") or 0) >= 1:
            self.add_error("deposit_percent", _("Give the deposit as 1 to 100 % of the price."))
        if terms in (PaymentTerms.FULL, PaymentTerms.DEPOSIT_PERCENT) and price <= 0:
            self.add_error("price", _("A service paid online needs a price."))
        if terms and terms != PaymentTerms.NONE:
            currency = str(data.get("currency") or "").upper()
            from bookwell.payments.models import PaymentSettings

            # (read in the clinic's context, as every form of its pages)
            takes = PaymentSettings.objects.values_list("currency", flat=True).first()
            if takes and currency and currency != takes:
                self.add_error(
                    "currency",
                    _(
                        "This clinic takes payments online in %(currency)s: price the service "
                        "in %(currency)s, or ask for no payment online."
                    )
                    % {"currency": takes},
                )
            if currency in ZERO_DECIMAL_CURRENCIES | THREE_DECIMAL_CURRENCIES:
                self.add_error(
                    "currency", _("Online payment takes currencies with cents, like EUR or CHF.")
                )
            due = {
                PaymentTerms.FULL: price,
                PaymentTerms.DEPOSIT_FIXED: min(data.get("deposit") or Decimal(0), price)
                if price
                else data.get("deposit") or Decimal(0),
                PaymentTerms.DEPOSIT_PERCENT: price * (data.get("deposit_percent") or 0) / 100,
            }.get(terms, Decimal(0))
            least = MIN_ONLINE_AMOUNTS.get(currency, MIN_ONLINE_AMOUNT)
            if Decimal(0) < due < least:
                self.add_error(
                    "payment",
                    _("Stripe takes amounts from %(least)s %(currency)s; ask for more, or nothing.")
                    % {"least": least, "currency": currency},
                )
        return data

    def clean_currency(self) -> str:
        value = str(self.cleaned_data["currency"]).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError(_("Use a three-letter currency code, like EUR."))
        return value


class StaffForm(forms.ModelForm):
    user: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Team member (optional)")
    )

    class Meta:
        model = StaffMember
        fields = ["display_name", "bookable"]
        labels = {"display_name": _("Name shown to clients"), "bookable": _("Takes bookings")}

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only people who are members of this clinic.
        self.fields["user"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__clinic=clinic
        ).order_by("full_name")
        self.fields["user"].label_from_instance = lambda u: u.full_name  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["user"].initial = self.instance.user_id


class LocationForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, label=_("Time zone"))

    class Meta:
        model = Location
        fields = ["name", "address", "time_zone"]

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial["time_zone"] = clinic.time_zone


class RoomForm(forms.ModelForm):
    location: forms.ModelChoiceField[Location] = forms.ModelChoiceField(
        queryset=None, label=_("Location")
    )

    class Meta:
        model = Room
        fields = ["location", "name", "capacity"]
        labels = {"capacity": _("People at once")}

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(archived=False).order_by(  # type: ignore[attr-defined]
            "name"
        )
        self.fields["location"].label_from_instance = lambda loc: loc.name  # type: ignore[attr-defined]


class OverrideForm(forms.Form):
    date = DayField(label=_("Date"))
    location: forms.ModelChoiceField[Location] = forms.ModelChoiceField(
        queryset=None, label=_("Location")
    )
    hours = forms.CharField(
        required=False,
        max_length=200,
        label=_("Hours that day"),
        help_text=_("Like 10:00-14:00. Leave empty: not working that day."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(archived=False).order_by(  # type: ignore[attr-defined]
            "name"
        )
        self.fields["location"].label_from_instance = lambda loc: loc.name  # type: ignore[attr-defined]

    def clean_hours(self) -> list[tuple[int, int]]:
        try:
            return parse_intervals(self.cleaned_data["hours"] or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class TimeOffForm(forms.Form):
    start = MomentField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label=_("From"),
    )
    end = MomentField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label=_("Until"),
    )
    category = forms.ChoiceField(choices=TimeOffCategory.choices, label=_("Kind"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data


class ClosureForm(forms.ModelForm):
    first_day = DayField(label=_("First day"))
    last_day = DayField(label=_("Last day"))

    class Meta:
        model = ClinicClosure
        fields = ["first_day", "last_day", "label"]
        widgets = {
            "first_day": forms.DateInput(attrs={"type": "date"}),
            "last_day": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"first_day": _("First day"), "last_day": _("Last day"), "label": _("Name")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", _("The last day must not be before the first."))
        if first and last and (last - first) > dt.timedelta(days=366):
            self.add_error("last_day", _("A closure lasts at most a year."))
        return data
