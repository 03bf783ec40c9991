from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_single_line(value: str) -> None:
    """Names and titles: no line breaks or other control characters (they end up in headers)."""
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value):
        raise ValidationError(_("Use a single line without control characters."), code="control")
