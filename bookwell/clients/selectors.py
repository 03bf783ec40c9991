"""Reads for clients. Names are encrypted, so lists are ordered by time, and found by search."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from bookwell.clients import blind
from bookwell.clients.models import Client, IndexKind
from bookwell.clients.normalize import normalize_email, normalize_phone
from bookwell.tenancy.models import Clinic

PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{6,}$")


def client_list(*, clinic: Clinic) -> QuerySet[Client]:
    return Client.objects.filter(clinic=clinic).order_by("-created_at", "pk")


def client_search(*, clinic: Clinic, query: str) -> QuerySet[Client]:
    """By email (whole address), phone (any common notation) or the start of name words.

    Several words must all match (each the start of some word of the name).
    """
    query = query.strip()[:200]
    base = client_list(clinic=clinic)
    if not query:
        return base
    if "@" in query:
        try:
            email = normalize_email(query)
        except ValidationError:
            return base.none()
        ids = blind.matching_client_ids(clinic_id=clinic.pk, kind=IndexKind.EMAIL, value=email)
        return base.filter(pk__in=ids)
    if PHONE_LIKE.match(query):
        try:
            phone = normalize_phone(query, clinic.country)
        except ValidationError:
            return base.none()
        ids = blind.matching_client_ids(clinic_id=clinic.pk, kind=IndexKind.PHONE, value=phone)
        return base.filter(pk__in=ids)
    words = blind.name_query_words(query)
    if not words:
        return base.none()
    qs = base
    for word in words:
        qs = qs.filter(
            pk__in=blind.matching_client_ids(clinic_id=clinic.pk, kind=IndexKind.NAME, value=word)
        )
    return qs
