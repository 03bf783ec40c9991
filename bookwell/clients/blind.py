"""Blind indexes: search encrypted clients by keyed hashes of normalised values (P14)."""

from __future__ import annotations

from django.db.models import QuerySet

from bookwell.clients.models import ClientIndex, IndexKind
from bookwell.clients.normalize import MAX_PREFIX, name_prefixes, name_words
from bookwell.core.crypto import keyed_hash
from bookwell.tenancy import keyring
from bookwell.tenancy.models import ClinicKey


def digest(index_key: bytes, kind: str, value: str) -> str:
    return keyed_hash(index_key, f"{kind}:{value}")


def live_versions(clinic_id: int) -> list[int]:
    """Key versions that may still have index entries (more than one while rotating)."""
    versions = list(ClinicKey.objects.order_by("-version").values_list("version", flat=True))
    return versions or [keyring.active_version(clinic_id)]


def entries_for(
    *, clinic_id: int, version: int, full_name: str, email: str, phone: str
) -> list[tuple[str, str]]:
    key = keyring.data_key(clinic_id, version).index_key
    out = [
        (IndexKind.NAME.value, digest(key, IndexKind.NAME, p))
        for p in sorted(name_prefixes(full_name))
    ]
    if email:
        out.append((IndexKind.EMAIL.value, digest(key, IndexKind.EMAIL, email)))
    if phone:
        out.append((IndexKind.PHONE.value, digest(key, IndexKind.PHONE, phone)))
    return out


def matching_client_ids(*, clinic_id: int, kind: str, value: str) -> QuerySet[ClientIndex]:
    digests = [
        digest(keyring.data_key(clinic_id, v).index_key, kind, value)
        for v in live_versions(clinic_id)
    ]
    return ClientIndex.objects.filter(kind=kind, digest__in=digests).values_list(
        "client_id", flat=True
    )


def name_query_words(query: str) -> list[str]:
    return [w[:MAX_PREFIX] for w in name_words(query)][:5]
