from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from bookwell.clients.models import Client, NameKind
from bookwell.clients.services import MAX_NOTE, ClientInput
from bookwell.core.dates import MomentField
from bookwell.tenancy.models import Clinic


class ClientForm(forms.Form):
    """Shape and sizes only; the service validates and normalises (one set of rules)."""

    full_name = forms.CharField(label=_("Name"), max_length=120)
    name_kind = forms.ChoiceField(
        label=_("The name is"), choices=NameKind.choices, initial=NameKind.FULL
    )
    email = forms.CharField(max_length=254, required=False, widget=forms.EmailInput)
    phone = forms.CharField(
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text=_("Without a country code, the clinic's country is assumed."),
    )
    date_of_birth = forms.CharField(
        required=False, max_length=10, widget=forms.DateInput(attrs={"type": "date"})
    )
    preferred_language = forms.ChoiceField(choices=settings.LANGUAGES, initial="en")
    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A short note for the front desk. Not for medical information."),
    )
    marketing_consent = forms.BooleanField(
        required=False,
        label=_("Agrees to receive news and offers (off unless the client said yes)"),
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not clinic.allow_pseudonyms:
            del self.fields["name_kind"]
        if not clinic.collect_date_of_birth:
            del self.fields["date_of_birth"]

    def to_input(self, existing: Client | None = None) -> ClientInput:
        """What the form says; fields the clinic has switched off keep the stored value."""
        d = self.cleaned_data
        kind = d.get("name_kind") or (existing.name_kind if existing else NameKind.FULL)
        dob = d["date_of_birth"] if "date_of_birth" in self.fields else None
        return ClientInput(
            full_name=d["full_name"],
            name_kind=kind,
            email=d.get("email", ""),
            phone=d.get("phone", ""),
            date_of_birth=(dob or "")
            if dob is not None or existing is None
            else existing.date_of_birth,
            preferred_language=d.get("preferred_language", "en"),
            note=d.get("note", ""),
            marketing_consent=d.get("marketing_consent", False),
        )


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, first row names the columns."))
    skip_duplicates = forms.BooleanField(
        required=False,
        label=_(
            "Leave out rows whose email already belongs to a client "
            "(otherwise they stop the import)"
        ),
    )


class PrivacyNoticeForm(forms.Form):
    body = forms.CharField(
        label=_("Notice text"),
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_("Published versions are kept as they were; a change is a new version."),
    )
    effective_at = MomentField(
        label=_("Takes effect"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )
