"""Forms of the notifications pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from bookwell.notifications.models import Channel
from bookwell.notifications.texts import check_placeholders

SMS_MAX = 480


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, required=False, label=_("Subject"))
    body = forms.CharField(
        max_length=10_000, widget=forms.Textarea(attrs={"rows": 10}), label=_("Text")
    )

    def __init__(self, *args: Any, channel: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel == Channel.SMS:
            del self.fields["subject"]
            body = self.fields["body"]
            body.validators.append(MaxLengthValidator(SMS_MAX))  # three SMS parts at most
            body.widget.attrs.update(rows=4, maxlength=SMS_MAX)
        else:
            self.fields["subject"].required = True

    def clean_subject(self) -> str:
        subject = str(self.cleaned_data.get("subject", "")).strip()
        if "\n" in subject or "\r" in subject:
            raise ValidationError(_("A subject is one line."), code="multiline")
        check_placeholders(subject)
        return subject

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"]).replace("\r\n", "\n").strip()
        check_placeholders(body)
        return body


class ReminderRuleForm(forms.Form):
    UNITS = [("60", _("hours")), ("1440", _("days"))]

    amount = forms.IntegerField(min_value=1, max_value=336, label=_("How long before"))
    unit = forms.ChoiceField(choices=UNITS, label=_("Unit"))
    channel = forms.ChoiceField(choices=Channel.choices, label=_("Channel"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "amount" in data and "unit" in data:
            minutes = int(data["amount"]) * int(data["unit"])
            if not 60 <= minutes <= 14 * 24 * 60:
                raise ValidationError(
                    _("Remind between one hour and two weeks before."), code="range"
                )
            data["minutes_before"] = minutes
        return data


class SendingForm(forms.Form):
    sms_enabled = forms.BooleanField(
        required=False,
        label=_("Send SMS"),
        help_text=_("To clients who gave a mobile number and did not opt out."),
    )
    quiet_start = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        label=_("Quiet from"),
    )
    quiet_end = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        label=_("Quiet until"),
        help_text=_("No reminders between these times (clinic time). Leave both empty for none."),
    )
    agenda_at = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        label=_("Daily agenda for staff at"),
        help_text=_(
            "Staff members who sign in to Bookwell get their day's appointments by email at "
            "this time (clinic time), clients by initials only. Leave empty for none."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            raise ValidationError(_("Give both quiet times, or neither."), code="quiet_pair")
        if start is not None and start == end:
            raise ValidationError(_("The quiet time needs a start and a different end."))
        return data
