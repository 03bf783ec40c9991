"""The built-in wording of every message, and the placeholders a clinic's own may use.

Built-in texts are translated through the catalogue (English and German complete); a clinic
can replace any of them per language (MessageTemplate). Placeholders are `{name}`; any other
name, a format spec or a stray brace is refused when the clinic saves its text.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from bookwell.notifications.models import Channel, Kind

PLACEHOLDERS: dict[str, object] = {
    "client_name": _("the client's name as they gave it"),
    "clinic": _("the clinic's name"),
    "service": _("the service"),
    "staff": _("who the appointment is with"),
    "date": _("the day, written out in the client's language"),
    "time": _("the start time, on the clinic's clock"),
    "location": _("the location's address"),
    "manage_link": _("the client's link to change or cancel"),
    "offer_expires": _("until when a waitlist offer stands (waitlist offers only)"),
}


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str


_EMAIL: dict[str, tuple[object, object]] = {
    Kind.CONFIRMATION: (
        _("Your appointment on {date} at {time}"),
        _(
            "Hello {client_name},\n\nYour appointment is booked: {service} with {staff} on "
            "{date} at {time}.\n{location}\n\nTo change or cancel it: {manage_link}\n\n{clinic}"
        ),
    ),
    Kind.REMINDER: (
        _("Reminder: {service} on {date} at {time}"),
        _(
            "Hello {client_name},\n\nThis is a reminder of your appointment: {service} with "
            "{staff} on {date} at {time}.\n{location}\n\nTo change or cancel it: "
            "{manage_link}\n\n{clinic}"
        ),
    ),
    Kind.RESCHEDULE: (
        _("Your appointment has moved to {date} at {time}"),
        _(
            "Hello {client_name},\n\nYour appointment has moved: {service} with {staff} is now "
            "on {date} at {time}.\n{location}\n\nTo change or cancel it: {manage_link}\n\n{clinic}"
        ),
    ),
    Kind.CANCELLATION: (
        _("Your appointment on {date} is cancelled"),
        _(
            "Hello {client_name},\n\nYour appointment for {service} on {date} at {time} is "
            "cancelled.\n\n{clinic}"
        ),
    ),
    Kind.WAITLIST_OFFER: (
        _("A time is free: {service} on {date} at {time}"),
        _(
            "Hello {client_name},\n\nA time you were waiting for is free: {service} with {staff} "
            "on {date} at {time}. It is held for you until {offer_expires}.\n\n"
            "To take it: {manage_link}\n\n{clinic}"
        ),
    ),
}

_SMS: dict[str, object] = {
    Kind.CONFIRMATION: _("{clinic}: booked {service} on {date} at {time}. Change: {manage_link}"),
    Kind.REMINDER: _("{clinic}: reminder, {service} on {date} at {time}. Change: {manage_link}"),
    Kind.RESCHEDULE: _("{clinic}: moved, {service} now on {date} at {time}. {manage_link}"),
    Kind.CANCELLATION: _("{clinic}: your appointment on {date} at {time} is cancelled."),
    Kind.WAITLIST_OFFER: _(
        "{clinic}: a time is free, {service} on {date} at {time}, until {offer_expires}. "
        "{manage_link}"
    ),
}


_AGENDA = (
    _("Your appointments on {date}: {count}"),
    _(
        "Good morning {staff},\n\nYour appointments on {date} at {clinic}:\n\n{agenda}\n\n"
        "Clients are shown by their initials. The calendar: {calendar_link}"
    ),
)


def agenda(language: str) -> Wording:
    """The staff's daily agenda (built in; its placeholders are filled by the platform)."""
    with override(language):
        return Wording(str(_AGENDA[0]), str(_AGENDA[1]))


def built_in(kind: str, channel: str, language: str) -> Wording:
    with override(language):
        if channel == Channel.SMS:
            return Wording("", str(_SMS[kind]))
        subject, body = _EMAIL[kind]
        return Wording(str(subject), str(body))


def check_placeholders(text: str) -> None:
    """Refuses unknown placeholders, format specs and unbalanced braces (a form error)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValidationError(
            _("A brace is not closed. Write placeholders like {service}."), code="bad_brace"
        ) from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ValidationError(
                _("Unknown placeholder {%(name)s}. You can use: %(known)s.")
                % {"name": name, "known": ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)},
                code="unknown_placeholder",
            )


def fill(text: str, values: dict[str, str]) -> str:
    """The text with its placeholders replaced (checked texts only)."""
    return text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
