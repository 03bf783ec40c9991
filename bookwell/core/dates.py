"""Dates people can mean. A calendar, a booking or a holiday far outside these years is a typo
or junk, and arithmetic on the extremes (9999-12-31 plus a day) overflows: refuse them early."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

FIRST = dt.date(1970, 1, 1)
LAST = dt.date(2199, 12, 31)


def in_range(day: dt.date) -> bool:
    return FIRST <= day <= LAST


def parse_day(value: str | None) -> dt.date | None:
    """An ISO date from a query string, or None when it is missing, malformed or absurd."""
    try:
        day = dt.date.fromisoformat(value or "")
    except ValueError:
        return None
    return day if in_range(day) else None


def validate_day(day: dt.date) -> None:
    if not in_range(day):
        raise ValidationError(
            _("Choose a date between %(first)s and %(last)s.")
            % {"first": FIRST.year, "last": LAST.year},
            code="date_range",
        )


class DayField(forms.DateField):
    """A date input limited to the years a clinic can mean."""

    default_validators = [validate_day]

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)  # type: ignore[arg-type]


def validate_moment(moment: dt.datetime) -> None:
    validate_day(moment.date())


class MomentField(forms.DateTimeField):
    """A date and time input limited to the years a clinic can mean."""

    default_validators = [validate_moment]
