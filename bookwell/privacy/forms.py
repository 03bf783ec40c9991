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
