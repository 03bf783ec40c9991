from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bookwell.payments.models import PaymentSettings


class PaymentSettingsForm(forms.ModelForm):
    """The keys are write-only: left empty, the stored ones stay."""

    new_secret_key = forms.CharField(
        label=_("Stripe secret key"),
        required=False,
        max_length=255,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("sk_live_… or a restricted key rk_live_…; empty keeps the stored one."),
    )
    new_webhook_secret = forms.CharField(
        label=_("Stripe webhook signing secret"),
        required=False,
        max_length=255,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("whsec_…, from the webhook endpoint you add in Stripe for the address below."),
    )

    class Meta:
        model = PaymentSettings
        fields = ["enabled", "currency", "hold_minutes", "keep_percent"]
        labels = {
            "keep_percent": _("Share kept when a client cancels late or does not come (%)"),
            "enabled": _("Take payments online when clients book"),
            "currency": _("Currency"),
            "hold_minutes": _("Hold a time this long while the client pays (minutes)"),
        }

    def clean_currency(self) -> str:
        from bookwell.scheduling.models import PaymentTerms, Service

        currency = str(self.cleaned_data["currency"]).strip().upper()
        # Services paid online are charged in their price's currency: it must be this one.
        others = list(
            Service.objects.filter(archived=False)
            .exclude(payment=PaymentTerms.NONE)
            .exclude(currency=currency)
            .order_by("name")
            .values_list("name", flat=True)
        )
        if others:
            raise forms.ValidationError(
                _(
                    "These services are paid online in another currency: %(names)s. Change "
                    "their currency, or their payment, first."
                )
                % {"names": ", ".join(others)}
            )
        return currency

    def clean_new_secret_key(self) -> str:
        value = self.cleaned_data["new_secret_key"]
        if value and not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9]{10,240}", value):
            raise forms.ValidationError(_("This does not look like a Stripe secret key."))
        return str(value)

    def clean_new_webhook_secret(self) -> str:
        value = self.cleaned_data["new_webhook_secret"]
        if value and not re.fullmatch(r"whsec_[A-Za-z0-9]{10,240}", value):
            raise forms.ValidationError(_("This does not look like a Stripe signing secret."))
        return str(value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("enabled"):
            has_key = data.get("new_secret_key") or self.instance.secret_key
            has_secret = data.get("new_webhook_secret") or self.instance.webhook_secret
            if not has_key or not has_secret:
                self.add_error(
                    "enabled", _("Enter the secret key and the webhook secret to take payments.")
                )
        return data
