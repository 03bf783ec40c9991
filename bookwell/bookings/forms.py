"""Forms of the staff calendar. Choices are limited to the active clinic's rows (the tenant
managers see nothing else), and the services recheck everything."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bookwell.bookings.models import CancelReason, OverrideReason, Status
from bookwell.bookings.services import TRANSITIONS
from bookwell.clients.models import Client
from bookwell.core.dates import DayField
from bookwell.core.validators import validate_single_line
from bookwell.scheduling.models import Room, Service, StaffMember

REPEAT_CHOICES = [
    ("", _("Does not repeat")),
    ("1", _("Every week")),
    ("2", _("Every 2 weeks")),
    ("3", _("Every 3 weeks")),
    ("4", _("Every 4 weeks")),
]


class StaffChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: StaffMember) -> str:
        return obj.display_name


class RoomChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Room) -> str:
        return f"{obj.name} · {obj.location.name}"


class ServiceChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.name} ({obj.duration_min} min)"


def _client_or_none(value: str) -> Client | None:
    try:
        pk = uuid.UUID(str(value))
    except ValueError:
        return None
    return Client.objects.filter(pk=pk).first()


class NewAppointmentForm(forms.Form):
    staff: forms.ModelChoiceField[StaffMember] = StaffChoice(queryset=None, label=_("With"))
    service: forms.ModelChoiceField[Service] = ServiceChoice(queryset=None, label=_("Service"))
    date = DayField(label=_("Date"))
    time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")
    )
    room: forms.ModelChoiceField[Room] = RoomChoice(
        queryset=None,
        required=False,
        label=_("Room"),
        empty_label=_("Any free room the service uses"),
    )
    client = forms.CharField(required=False, widget=forms.HiddenInput)
    new_client_name = forms.CharField(
        required=False, max_length=120, validators=[validate_single_line], label=_("New client")
    )
    new_client_email = forms.EmailField(required=False, max_length=254, label=_("Email"))
    new_client_phone = forms.CharField(
        required=False, max_length=40, validators=[validate_single_line], label=_("Phone")
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    repeat = forms.ChoiceField(choices=REPEAT_CHOICES, required=False, label=_("Repeat"))
    count = forms.IntegerField(
        min_value=2, max_value=52, required=False, initial=6, label=_("How many times")
    )
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = StaffMember.objects.filter(archived=False).order_by(  # type: ignore[attr-defined]
            "display_name"
        )
        self.fields["service"].queryset = Service.objects.filter(archived=False).order_by("name")  # type: ignore[attr-defined]
        self.fields["room"].queryset = (  # type: ignore[attr-defined]
            Room.objects.filter(archived=False)
            .select_related("location")
            .order_by("location__name", "name")
        )
        self.client_obj: Client | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = data.get("client") or ""
        if raw:
            self.client_obj = _client_or_none(raw)
            if self.client_obj is None:
                self.add_error("new_client_name", _("That client was not found. Search again."))
        elif not data.get("new_client_name"):
            self.add_error(
                "new_client_name",
                _("Choose a client from the search, or enter a new client's name."),
            )
        if data.get("repeat") and not data.get("count"):
            self.add_error("count", _("Say how many times."))
        if data.get("repeat") and data.get("room"):
            self.add_error("room", _("A series takes whichever room is free: leave it empty."))
        return data


class MoveForm(forms.Form):
    date = DayField(label=_("New date"))
    time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        label=_("New time"),
    )
    staff: forms.ModelChoiceField[StaffMember] = StaffChoice(
        queryset=None, required=False, label=_("With"), empty_label=None
    )
    room: forms.ModelChoiceField[Room] = RoomChoice(
        queryset=None,
        required=False,
        label=_("Room"),
        empty_label=_("Keep it, or any free room the service uses"),
    )

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Who may take it: active, bookable staff offering the service (the service rechecks).
        self.fields["staff"].queryset = service.staff.filter(  # type: ignore[attr-defined]
            archived=False, bookable=True
        ).order_by("display_name", "pk")
        rooms = service.rooms.filter(archived=False).select_related("location")
        self.fields["room"].queryset = rooms.order_by("location__name", "name")  # type: ignore[attr-defined]
        if not rooms.exists():
            del self.fields["room"]  # the service needs no room


class CancelForm(forms.Form):
    who = forms.ChoiceField(
        choices=[("clinic", _("The clinic cancels")), ("client", _("The client cancels"))],
        widget=forms.RadioSelect,
        initial="clinic",
        label=_("Who cancels"),
    )
    reason = forms.ChoiceField(choices=CancelReason.choices, label=_("Reason"))
    override_reason = forms.ChoiceField(
        choices=[
            ("", _("— only needed inside the client's notice window —")),
            *OverrideReason.choices,
        ],
        required=False,
        label=_("Exception to the notice window"),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (value, label)
            for value, label in Status.choices
            if value in TRANSITIONS.get(current, set())
        ]


class NoteForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class SeriesCancelForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("one", _("Only this one")), ("future", _("This and all later ones"))],
        widget=forms.RadioSelect,
        initial="one",
    )


class WaitlistAddForm(forms.Form):
    client = forms.CharField(widget=forms.HiddenInput)
    service: forms.ModelChoiceField[Service] = ServiceChoice(queryset=None, label=_("Service"))
    staff: forms.ModelChoiceField[StaffMember] = StaffChoice(
        queryset=None, required=False, label=_("With (optional)")
    )
    first_day = DayField(label=_("From"))
    last_day = DayField(label=_("Until"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(archived=False).order_by("name")  # type: ignore[attr-defined]
        self.fields["staff"].queryset = StaffMember.objects.filter(archived=False).order_by(  # type: ignore[attr-defined]
            "display_name"
        )
        self.client_obj: Client | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.client_obj = _client_or_none(data.get("client") or "")
        if self.client_obj is None:
            self.add_error(None, _("Choose a client from the search."))
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and first > last:
            self.add_error("last_day", _("The last day must not be before the first."))
        return data
