from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bookwell.privacy.models import RequestKind


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("The client asked for"), choices=RequestKind.choices)
    received_on = forms.DateField(
        label=_("Received on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The answer is due a month later."),
    )


class EraseForm(forms.Form):
    understood = forms.BooleanField(
        label=_(
            "I understand: the client's record, contact details, notes, messages and waitlist "
            "places are deleted for good; their appointments stay, without them."
        )
    )


class LiftForm(forms.Form):
    client_told = forms.BooleanField(
        label=_("The client was told that the restriction will be lifted.")
    )


class ClinicDeleteForm(forms.Form):
    name = forms.CharField(label=_("Type the clinic's name"), max_length=200, strip=False)
    password = forms.CharField(
        label=_("Your password"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
