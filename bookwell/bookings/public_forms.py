"""Forms of the public booking page. No cookies: the form carries a signed ticket instead of a
CSRF token (see public_views for why that is safe)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from bookwell.core.dates import DayField
from bookwell.core.validators import validate_single_line
from bookwell.tenancy.models import BookingContact, Clinic

TICKET_SALT = "bookwell.book.ticket"
TICKET_MAX_AGE_S = 2 * 60 * 60
# A person needs a few seconds to fill the form in; scripts that post at once are refused.
MIN_FILL_S = 2


def new_ticket(purpose: str) -> str:
    """A signed, timestamped ticket naming what the form is for and an idempotency key."""
    return signing.dumps(
        {"p": purpose, "k": secrets.token_urlsafe(16), "t": int(time.time())}, salt=TICKET_SALT
    )


def read_ticket(value: str, purpose: str) -> dict[str, Any] | None:
    try:
        data = signing.loads(value, salt=TICKET_SALT, max_age=TICKET_MAX_AGE_S)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != purpose:
        return None
    return data


class ContactForm(forms.Form):
    full_name = forms.CharField(
        label=_("Your name"),
        max_length=120,
        validators=[validate_single_line],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        validators=[validate_single_line],
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    # Shown only where the clinic allows it: the record then says the name is not a real one.
    name_is_pseudonym = forms.BooleanField(
        required=False, label=_("This is not my full name (initials or a pseudonym)")
    )
    consent = forms.BooleanField(required=False)
    notice = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The honeypot: hidden from people (and from assistive technology), filled in by bots.
    website = forms.CharField(
        required=False,
        label=_("Leave this empty"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    ticket = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, clinic: Clinic, purpose: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.purpose = purpose
        self.ticket_data: dict[str, Any] | None = None
        rule = clinic.booking_contact
        email_needed = rule in (BookingContact.EMAIL, BookingContact.BOTH)
        phone_needed = rule in (BookingContact.PHONE, BookingContact.BOTH)
        self.fields["email"].required = email_needed
        self.fields["phone"].required = phone_needed
        if rule == BookingContact.EITHER:
            self.fields["email"].help_text = _("An email address or a phone number, or both.")
        if clinic.allow_pseudonyms:
            self.fields["full_name"].help_text = _("Initials or a pseudonym are fine.")
        else:
            del self.fields["name_is_pseudonym"]
        if not clinic.require_consent:
            del self.fields["consent"]
            del self.fields["notice"]
        else:
            self.fields["consent"].required = True

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("Please leave this field empty."), code="honeypot")
        return ""

    def clean_ticket(self) -> str:
        value = self.cleaned_data["ticket"]
        data = read_ticket(value, self.purpose)
        if data is None:
            raise forms.ValidationError(
                _("This form has expired. Please fill it in again."), code="expired"
            )
        if time.time() - int(data["t"]) < MIN_FILL_S:
            raise forms.ValidationError(
                _("That was quick. Please check your details and send again."), code="too_fast"
            )
        self.ticket_data = data
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            self.clinic.booking_contact == BookingContact.EITHER
            and not data.get("email")
            and not data.get("phone")
            and "email" not in self.errors
        ):
            self.add_error("email", _("Enter an email address or a phone number."))
        return data


class WaitlistForm(ContactForm):
    first_day = DayField(label=_("From"))
    last_day = DayField(label=_("Until"))

    field_order = ["first_day", "last_day"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and first > last:
            self.add_error("last_day", _("The last day must not be before the first."))
        return data
