"""`{{ cents|money }}`: an amount kept in cents, shown with two decimals in the page's
language (1234 → 12.34, or 12,34 in German)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def money(cents: int | None) -> str:
    return number_format(Decimal(int(cents or 0)) / 100, 2)
