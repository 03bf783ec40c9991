"""Blind indexes: search encrypted clients by keyed hashes of normalised values (P14)."""

from __future__ import annotations

import secrets

from django.db.models import QuerySet

from bookwell.clients.models import ClientIndex, IndexKind
from bookwell.clients.normalize import MAX_PREFIX, name_prefixes, name_words
from bookwell.core.crypto import keyed_hash
from bookwell.tenancy import keyring


def digest(index_key: bytes, kind: str, value: str) -> str:
    return keyed_hash(index_key, f"{kind}:{value}")


NAME_PAD = 8


def entries_for(
    *, key: keyring.DataKey, full_name: str, email: str, phone: str
) -> list[tuple[str, str]]:
    index_key = key.index_key
    names = [digest(index_key, IndexKind.NAME, p) for p in name_prefixes(full_name)]
    # Padded to a multiple of NAME_PAD with random digests (they match no query), so the count
    # of entries says little about the length of a name.
    names += [secrets.token_hex(32) for _ in range(-len(names) % NAME_PAD)]
    out = [(IndexKind.NAME.value, d) for d in names]
    if email:
        out.append((IndexKind.EMAIL.value, digest(index_key, IndexKind.EMAIL, email)))
    if phone:
        out.append((IndexKind.PHONE.value, digest(index_key, IndexKind.PHONE, phone)))
    # Stored in digest order: row ids must not follow the alphabetical order of the prefixes.
    return sorted(out, key=lambda entry: entry[1])


def matching_entries(*, clinic_id: int, kind: str, value: str) -> QuerySet[ClientIndex]:
    digests = [digest(k.index_key, kind, value) for k in keyring.live_keys(clinic_id)]
    return ClientIndex.objects.filter(kind=kind, digest__in=digests)


def name_query_words(query: str) -> list[str]:
    return [w[:MAX_PREFIX] for w in name_words(query)][:5]
