from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Shows a service's ValidationError on the form: on its field, or above the form."""
    for name, messages in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)
