"""Normalising what staff type, so that search and duplicate checks agree with storage."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

MAX_PREFIX = 20  # name prefixes are indexed up to this many characters


def normalize_email(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    validate_email(value)
    return value.lower()


def normalize_phone(value: str, region: str) -> str:
    """E.164, read in the clinic's country when written without a country code."""
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number."), code="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number."), code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def fold(value: str) -> str:
    """Lower case without accents: 'Chloé Müller' -> 'chloe muller'."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(value: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", fold(value)) if w]


MIN_PREFIX = 2


def name_prefixes(value: str) -> set[str]:
    """The prefixes a search box may receive: 2 to 20 letters of each word (a one-letter word,
    an initial, as itself)."""
    out: set[str] = set()
    for word in name_words(value):
        if len(word) < MIN_PREFIX:
            out.add(word)
            continue
        for end in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1):
            out.add(word[:end])
    return out
