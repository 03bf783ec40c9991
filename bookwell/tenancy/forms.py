from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

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
        ]

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).strip().upper()


class BookingRulesForm(forms.ModelForm):
    apply_to_services = forms.BooleanField(
        required=False,
        label=_("Apply these windows to every existing service too"),
        help_text=_("Otherwise they are the starting point for new services."),
    )

    class Meta:
        model = Clinic
        fields = [
            "online_booking",
            "booking_contact",
            "require_consent",
            "allow_pseudonyms",
            "waitlist_offer_minutes",
            "default_min_notice_min",
            "default_max_advance_days",
            "default_cancel_notice_min",
        ]
        labels = {
            "default_min_notice_min": _("Minimum notice for a booking (minutes)"),
            "default_max_advance_days": _("Bookable up to (days ahead)"),
            "default_cancel_notice_min": _(
                "Clients may cancel or reschedule until (minutes before)"
            ),
            "waitlist_offer_minutes": _("A waitlist offer stays open for (minutes)"),
        }


class BrandingForm(forms.Form):
    brand_colour = forms.CharField(
        label=_("Colour"), max_length=7, widget=forms.TextInput(attrs={"type": "color"})
    )
    logo = forms.FileField(
        required=False,
        label=_("Logo"),
        help_text=_("PNG, JPEG or WebP, at most 200 KB and 1024 pixels a side."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(required=False, label=_("Remove the logo"))


class EmbeddingForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ["embed_origins"]
        labels = {"embed_origins": _("Websites that may show the booking page")}
        widgets = {
            "embed_origins": forms.Textarea(
                attrs={"rows": 4, "placeholder": "https://www.example-clinic.de"}
            )
        }

    def clean_embed_origins(self) -> str:
        # Origins are case-insensitive and have no path: keep each once, in one spelling.
        lines = str(self.cleaned_data.get("embed_origins") or "").splitlines()
        origins = [line.strip().rstrip("/").lower() for line in lines if line.strip()]
        return "\n".join(dict.fromkeys(origins))


class NewPasswordMixin(forms.Form):
    password1 = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            try:
                password_validation.validate_password(p1)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SignupForm(NewPasswordMixin):
    full_name = forms.CharField(
        label=_("Your name"), max_length=120, validators=[validate_single_line]
    )
    email = forms.EmailField(max_length=254)
    clinic_name = forms.CharField(
        label=_("Clinic name"), max_length=120, validators=[validate_single_line]
    )
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="Europe/Berlin")
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        initial="DE",
        help_text=_("Two-letter country code, e.g. DE, FR, GB."),
        error_messages={"invalid": _("Use a two-letter country code.")},
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
        label=_("Your name"), max_length=120, validators=[validate_single_line]
    )
    field_order = ["full_name", "password1", "password2"]
