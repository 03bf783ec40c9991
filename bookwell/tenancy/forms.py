from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth import password_validation

from bookwell.core.validators import validate_single_line
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import ROLE_CHOICES

TIME_ZONE_CHOICES = [("UTC", "UTC")] + [
    (tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz
]


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ClinicSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES)

    class Meta:
        model = Clinic
        fields = [
            "name",
            "contact_email",
            "time_zone",
            "country",
            "locale",
            "require_mfa_for_admins",
            "client_email_unique",
            "collect_date_of_birth",
            "allow_pseudonyms",
        ]

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).strip().upper()


class NewPasswordMixin(forms.Form):
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            try:
                password_validation.validate_password(p1)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SignupForm(NewPasswordMixin):
    full_name = forms.CharField(
        label="Your name", max_length=120, validators=[validate_single_line]
    )
    email = forms.EmailField(max_length=254)
    clinic_name = forms.CharField(
        label="Clinic name", max_length=120, validators=[validate_single_line]
    )
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="Europe/Berlin")
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        initial="DE",
        help_text="Two-letter country code, e.g. DE, FR, GB.",
        error_messages={"invalid": "Use a two-letter country code."},
    )

    field_order = [
        "full_name",
        "email",
        "password1",
        "password2",
        "clinic_name",
        "time_zone",
        "country",
    ]


class InvitationSignupForm(NewPasswordMixin):
    full_name = forms.CharField(
        label="Your name", max_length=120, validators=[validate_single_line]
    )
    field_order = ["full_name", "password1", "password2"]
