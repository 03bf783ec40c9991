"""Cells of the CSV files people download and open in a spreadsheet."""

from __future__ import annotations

import re

_FORMULA = re.compile(r"^[=@\t\r]|^[+-](?![\d .()/-]*$)")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet would run as a formula gets a leading quote (CSV injection);
    phone numbers such as +49 30 123 do not."""
    text = "" if value is None else str(value)
    return "'" + text if _FORMULA.match(text) else text
