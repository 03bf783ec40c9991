"""Envelope encryption: per-clinic data keys wrapped by the operator's master keys (P14, P16).

* A clinic's data key is 256 random bits, stored only wrapped (AES-GCM under the current
  master key, additional data = clinic id and key version).
* Unwrapped keys are cached per process, keyed by (clinic, version); rotation clears them.
* From a data key two keys are derived: one seals fields, one computes blind indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookwell.core import crypto
from bookwell.core.context import clinic_context, platform_scope
from bookwell.tenancy.models import ClinicKey


class KeyringError(Exception):
    """A master key is missing or wrong. Names the key id, never the key."""


def _master_keys() -> dict[str, bytes]:
    return dict(settings.MASTER_KEYS)


def current_master_key_id() -> str:
    return settings.MASTER_KEYS[0][0]


def _aad(clinic_id: int, version: int) -> bytes:
    return f"bookwell:clinic-data-key:{clinic_id}:{version}".encode()


def _wrap(data_key: bytes, clinic_id: int, version: int) -> tuple[str, bytes]:
    key_id = current_master_key_id()
    return key_id, crypto.seal(_master_keys()[key_id], data_key, _aad(clinic_id, version))


def _unwrap(row: ClinicKey) -> bytes:
    master = _master_keys().get(row.master_key_id)
    if master is None:
        raise KeyringError(
            f"clinic data keys are wrapped under master key id {row.master_key_id!r}, "
            "which BOOKWELL_MASTER_KEYS does not contain"
        )
    try:
        return crypto.open_sealed(master, bytes(row.wrapped_key), _aad(row.clinic_id, row.version))
    except crypto.DecryptionError as exc:
        raise KeyringError(
            f"master key id {row.master_key_id!r} does not open the data keys wrapped under it "
            "(wrong key for that id)"
        ) from exc


@dataclass(frozen=True)
class DataKey:
    clinic_id: int
    version: int
    field_key: bytes
    index_key: bytes


def _derive(clinic_id: int, version: int, data_key: bytes) -> DataKey:
    return DataKey(
        clinic_id=clinic_id,
        version=version,
        field_key=crypto.derive_key(data_key, "bookwell field encryption v1"),
        index_key=crypto.derive_key(data_key, "bookwell blind index v1"),
    )


@cache
def data_key(clinic_id: int, version: int) -> DataKey:
    with clinic_context(clinic_id):
        row = ClinicKey.objects.filter(version=version).first()
    if row is None:
        raise KeyringError(f"clinic {clinic_id} has no data key version {version}")
    return _derive(clinic_id, version, _unwrap(row))


def active_version(clinic_id: int) -> int:
    with clinic_context(clinic_id):
        row = (
            ClinicKey.objects.filter(retired_at__isnull=True)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
    if row is not None:
        return row
    return create_version(clinic_id)


def active_key(clinic_id: int) -> DataKey:
    return data_key(clinic_id, active_version(clinic_id))


def create_version(clinic_id: int) -> int:
    """Adds a new data key version for the clinic and makes it the active one."""
    with clinic_context(clinic_id):
        for _ in range(3):
            try:
                with transaction.atomic():
                    latest = (
                        ClinicKey.objects.order_by("-version")
                        .values_list("version", flat=True)
                        .first()
                    )
                    version = (latest or 0) + 1
                    master_id, wrapped = _wrap(crypto.new_key(), clinic_id, version)
                    ClinicKey.objects.create(
                        clinic_id=clinic_id,
                        version=version,
                        wrapped_key=wrapped,
                        master_key_id=master_id,
                    )
                    return version
            except IntegrityError:
                continue  # another process created the same version; take the next
    raise KeyringError("could not create a clinic data key")


def retire_versions_below(clinic_id: int, version: int) -> None:
    with clinic_context(clinic_id):
        ClinicKey.objects.filter(version__lt=version, retired_at__isnull=True).update(
            retired_at=timezone.now()
        )


def destroy_versions_below(clinic_id: int, version: int) -> int:
    """Deletes old data keys: whatever they sealed can never be opened again."""
    with clinic_context(clinic_id):
        deleted, _ = ClinicKey.objects.filter(version__lt=version).delete()
    data_key.cache_clear()
    return deleted


def rewrap_all() -> int:
    """Re-wraps every clinic's data keys under the current master key; data is untouched."""
    count = 0
    with platform_scope("re-wrap every clinic data key under the current master key"):
        rows = list(ClinicKey.objects.all())
        for row in rows:
            if row.master_key_id == current_master_key_id():
                continue
            key = _unwrap(row)
            row.master_key_id, row.wrapped_key = _wrap(key, row.clinic_id, row.version)
            row.save(update_fields=["master_key_id", "wrapped_key"])
            count += 1
    data_key.cache_clear()
    return count


def verify_master_keys() -> None:
    """Start-up check: every master key id in use is configured and opens its data keys."""
    with platform_scope("start-up check of the master keys"):
        seen: set[str] = set()
        for row in ClinicKey.objects.order_by("master_key_id", "pk"):
            if row.master_key_id in seen:
                continue
            _unwrap(row)
            seen.add(row.master_key_id)
