"""Reads for clients. Names are encrypted, so lists are ordered by time, and found by search."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import overload

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from bookwell.clients import blind
from bookwell.clients.models import Client, ClientIndex, IndexKind
from bookwell.clients.normalize import normalize_email, normalize_phone
from bookwell.tenancy.models import Clinic

PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{6,}$")


def client_list(*, clinic: Clinic) -> QuerySet[Client]:
    return Client.objects.filter(clinic=clinic).order_by("-created_at", "pk")


class ClientSearch:
    """Search results, driven from the blind index: newest index entries first.

    Sliced and counted like a queryset (the paginator takes it); a page costs two indexed
    queries, however many clients the clinic has.
    """

    def __init__(self, entries: QuerySet[ClientIndex]) -> None:
        self._ids = entries.order_by("-id").values_list("client_id", flat=True)

    def count(self) -> int:
        return self._ids.count()

    def __len__(self) -> int:
        return self.count()

    def _clients(self, ids: list[object]) -> list[Client]:
        by_id = Client.objects.in_bulk(ids)
        return [by_id[i] for i in ids if i in by_id]

    @overload
    def __getitem__(self, index: int) -> Client: ...
    @overload
    def __getitem__(self, index: slice) -> list[Client]: ...
    def __getitem__(self, index: int | slice) -> Client | list[Client]:
        if isinstance(index, slice):
            return self._clients(list(self._ids[index]))
        found = self._clients(list(self._ids[index : index + 1]))
        if not found:
            raise IndexError(index)
        return found[0]

    def __iter__(self) -> Iterator[Client]:
        return iter(self._clients(list(self._ids)))


def _entries(clinic: Clinic, kind: str, value: str) -> QuerySet[ClientIndex]:
    return blind.matching_entries(clinic_id=clinic.pk, kind=kind, value=value)


def client_search(*, clinic: Clinic, query: str) -> ClientSearch:
    """By email (whole address), phone (any common notation) or the start of name words.

    Several words must all match (each the start of some word of the name).
    """
    query = query.strip()[:200]
    nothing = ClientSearch(ClientIndex.objects.none())
    if "@" in query:
        try:
            return ClientSearch(_entries(clinic, IndexKind.EMAIL, normalize_email(query)))
        except ValidationError:
            return nothing
    if PHONE_LIKE.match(query):
        try:
            return ClientSearch(
                _entries(clinic, IndexKind.PHONE, normalize_phone(query, clinic.country))
            )
        except ValidationError:
            return nothing
    words = blind.name_query_words(query)
    if not words:
        return nothing
    # Drive from the longest word (the rarest prefix); the others filter its entries.
    words.sort(key=len, reverse=True)
    entries = _entries(clinic, IndexKind.NAME, words[0])
    for word in words[1:]:
        entries = entries.filter(
            client_id__in=_entries(clinic, IndexKind.NAME, word).values("client_id")
        )
    return ClientSearch(entries)
