from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bookwell.core.dates import DayField
from bookwell.integrations.models import WebhookEvent
from bookwell.integrations.scopes import SCOPE_CHOICES


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=80,
        help_text=_("What uses it, e.g. “Website booking” or “Practice software”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("What it may do"),
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Writing includes reading the same things."),
    )
    expires_on = DayField(
        label=_("Expires on"), required=False, help_text=_("Leave empty for no expiry.")
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=_("Address"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where Bookwell sends events, e.g. https://example-clinic.de/hooks/bookwell"),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    include_contact = forms.BooleanField(
        label=_("Include the client's name, email and phone"),
        required=False,
        help_text=_(
            "Off: events carry ids, times and statuses only. Turn on only if the receiving "
            "service needs contact details and may have them."
        ),
    )
