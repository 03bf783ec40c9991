"""Envelope encryption: per-clinic data keys wrapped by the operator's master keys (P14, P16).

* A clinic's data key is 256 random bits, stored only wrapped (AES-GCM under the current
  master key, additional data = clinic id and key uid).
* Each data key has a random uid that is never reused, so unwrapped keys are cached per
  process by (clinic, uid) without risk: a key created in a transaction that rolled back can
  never be confused with a later one. Ciphertexts name the uid of the key that sealed them.
* From a data key two keys are derived: one seals fields, one computes blind indexes.
* Wrapping (version 2) uses a key derived from the master key and a per-key secret kept
  outside the database (tenancy.keystore): a database copy alone cannot unwrap anything, and
  destroying the secrets of a deleted clinic makes its data unreadable in every copy (P16).
  Version 1 (the master key alone) is still opened; `keys rotate-master` moves it to 2.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bookwell.core import crypto
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.db.statements import Rider, fetch_batch
from bookwell.tenancy import keystore
from bookwell.tenancy.models import ClinicKey

WRAP_VERSION = 2


class KeyringError(Exception):
    """A data or master key is missing or wrong. Names the key id, never the key."""


@dataclass(frozen=True)
class DataKey:
    clinic_id: int
    version: int
    uid: str
    field_key: bytes
    index_key: bytes


def current_master_key_id() -> str:
    return settings.MASTER_KEYS[0][0]


def _aad(clinic_id: int, uid: str) -> bytes:
    return f"bookwell:clinic-data-key:{clinic_id}:{uid}".encode()


def _kek(master: bytes, secret: bytes, clinic_id: int, uid: str) -> bytes:
    return crypto.derive_key(master, f"bookwell clinic kek v2:{clinic_id}:{uid}", salt=secret)


def _wrap(data_key: bytes, clinic_id: int, uid: str, secret: bytes) -> tuple[str, bytes]:
    """Wraps (version 2) under the current master key and the key's keystore secret."""
    key_id = current_master_key_id()
    kek = _kek(dict(settings.MASTER_KEYS)[key_id], secret, clinic_id, uid)
    return key_id, crypto.seal(kek, data_key, _aad(clinic_id, uid))


def _secret(clinic_id: int, uid: str) -> bytes:
    try:
        return keystore.secret_read(clinic_id, uid)
    except keystore.SecretMissing as exc:
        raise KeyringError(
            f"{exc} (destroyed with its clinic or key version, or BOOKWELL_KEYSTORE_DIR "
            "does not point at the keystore)"
        ) from None


def _unwrap(
    clinic_id: int, uid: str, master_key_id: str, wrapped: bytes, wrap_version: int
) -> bytes:
    master = dict(settings.MASTER_KEYS).get(master_key_id)
    if master is None:
        raise KeyringError(
            f"clinic data keys are wrapped under master key id {master_key_id!r}, "
            "which BOOKWELL_MASTER_KEYS does not contain"
        )
    if wrap_version >= 2:
        master = _kek(master, _secret(clinic_id, uid), clinic_id, uid)
    try:
        return crypto.open_sealed(master, wrapped, _aad(clinic_id, uid))
    except crypto.DecryptionError as exc:
        raise KeyringError(
            f"master key id {master_key_id!r} does not open the data keys wrapped under it "
            "(wrong key for that id)"
        ) from exc


@cache
def _opened(
    clinic_id: int, uid: str, version: int, master_key_id: str, wrapped: bytes, wrap_version: int
) -> DataKey:
    data_key = _unwrap(clinic_id, uid, master_key_id, wrapped, wrap_version)
    return DataKey(
        clinic_id=clinic_id,
        version=version,
        uid=uid,
        field_key=crypto.derive_key(data_key, "bookwell field encryption v1"),
        index_key=crypto.derive_key(data_key, "bookwell blind index v1"),
    )


def _key_from_row(row: ClinicKey) -> DataKey:
    return _opened(
        row.clinic_id,
        row.uid,
        row.version,
        row.master_key_id,
        bytes(row.wrapped_key),
        row.wrap_version,
    )


_pinned: ContextVar[DataKey | None] = ContextVar("bookwell_pinned_key", default=None)


@contextmanager
def pinned_active_key(clinic_id: int) -> Iterator[DataKey]:
    """Resolve the active key once for a bulk operation (imports, rotation)."""
    token = _pinned.set(active_key(clinic_id))
    try:
        yield _pinned.get()  # type: ignore[misc]
    finally:
        _pinned.reset(token)


_ACTIVE_FOR_SHARE = (
    "SELECT uid, version, master_key_id, wrapped_key, wrap_version "  # noqa: S608
    f"FROM {ClinicKey._meta.db_table} "
    "WHERE clinic_id = %s AND retired_at IS NULL ORDER BY version DESC LIMIT 1 FOR SHARE"
)


def active_key_rider(clinic_id: int) -> Rider | None:
    """The read of the active key (FOR SHARE) for a writer to send with reads it makes
    anyway (a booking's availability check), then pin with pinned_key_read; None where
    active_key reads it on its own (SQLite, outside a transaction, a key pinned already)."""
    pinned = _pinned.get()
    if pinned is not None or connection.vendor != "postgresql" or not connection.in_atomic_block:
        return None
    return Rider(_ACTIVE_FOR_SHARE, [clinic_id])


@contextmanager
def pinned_key_read(clinic_id: int, rider: Rider | None) -> Iterator[DataKey]:
    """pinned_active_key with the key `rider` read; reads it now if the rider never went
    (or found no key: the clinic's first one is made)."""
    if rider is None or not rider.done or not rider.rows:
        with pinned_active_key(clinic_id) as key:
            yield key
        return
    uid, version, master_key_id, wrapped, wrap_version = rider.rows[0]
    token = _pinned.set(
        _opened(clinic_id, uid, version, master_key_id, bytes(wrapped), wrap_version)
    )
    try:
        yield _pinned.get()  # type: ignore[misc]
    finally:
        _pinned.reset(token)


# Keys by uid, for opening. Safe to keep: a uid is never reused, and sealing always asks the
# database for the active key, so a key whose row rolled back or was destroyed is never used
# to seal again. Destruction clears this cache (other processes on restart).
_by_uid: dict[tuple[int, str], DataKey] = {}


def key_by_uid(clinic_id: int, uid: str) -> DataKey:
    pinned = _pinned.get()
    if pinned is not None and pinned.clinic_id == clinic_id and pinned.uid == uid:
        return pinned
    known = _by_uid.get((clinic_id, uid))
    if known is not None:
        return known
    with clinic_context(clinic_id):
        row = ClinicKey.objects.filter(uid=uid).first()
    if row is None:
        raise KeyringError("the data key that sealed this value no longer exists")
    key = _by_uid[(clinic_id, uid)] = _key_from_row(row)
    return key


def live_keys(clinic_id: int) -> list[DataKey]:
    """Every data key of the clinic, newest first (more than one while rotating)."""
    with clinic_context(clinic_id):
        rows = list(ClinicKey.objects.order_by("-version"))
    return [_key_from_row(r) for r in rows] or [active_key(clinic_id)]


def active_key(clinic_id: int) -> DataKey:
    pinned = _pinned.get()
    if pinned is not None and pinned.clinic_id == clinic_id:
        return pinned
    with clinic_context(clinic_id):
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # A writer holds the active key FOR SHARE until it commits: a rotation cannot
            # retire (UPDATE) it meanwhile, so nothing is sealed under a retired key that the
            # rotation's re-encryption could miss.
            # Prepared (every booking and client write seals something).
            (found,) = fetch_batch(connection.alias, [(_ACTIVE_FOR_SHARE, [clinic_id])])
            if found:
                uid, version, master_key_id, wrapped, wrap_version = found[0]
                return _opened(clinic_id, uid, version, master_key_id, bytes(wrapped), wrap_version)
            row = None
        else:
            row = ClinicKey.objects.filter(retired_at__isnull=True).order_by("-version").first()
    if row is None:
        return _first_key(clinic_id)
    return _key_from_row(row)


def _first_key(clinic_id: int) -> DataKey:
    """The clinic's first data key. Requests racing to create it agree on one: the loser of
    the unique (clinic, version) race takes the winner's key."""
    with clinic_context(clinic_id):
        try:
            with transaction.atomic():
                return _insert_version(clinic_id, 1)
        except IntegrityError:
            row = ClinicKey.objects.filter(retired_at__isnull=True).order_by("-version").first()
            if row is None:
                raise KeyringError("could not create a clinic data key") from None
            return _key_from_row(row)


def active_version(clinic_id: int) -> int:
    return active_key(clinic_id).version


def create_version(clinic_id: int) -> DataKey:
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
                    return _insert_version(clinic_id, (latest or 0) + 1)
            except IntegrityError:
                continue  # another process created the same version; take the next
    raise KeyringError("could not create a clinic data key")


def _insert_version(clinic_id: int, version: int) -> DataKey:
    uid = secrets.token_hex(16)
    # The secret first: a row that rolls back leaves an unused secret, never a row without one.
    master_id, wrapped = _wrap(
        crypto.new_key(), clinic_id, uid, keystore.secret_create(clinic_id, uid)
    )
    row = ClinicKey.objects.create(
        clinic_id=clinic_id,
        version=version,
        uid=uid,
        wrapped_key=wrapped,
        master_key_id=master_id,
        wrap_version=WRAP_VERSION,
    )
    return _key_from_row(row)


def retire_versions_below(clinic_id: int, version: int) -> None:
    with clinic_context(clinic_id):
        ClinicKey.objects.filter(version__lt=version, retired_at__isnull=True).update(
            retired_at=timezone.now()
        )


def destroy_versions_below(clinic_id: int, version: int) -> int:
    """Deletes old data keys: whatever they sealed can never be opened again."""
    with clinic_context(clinic_id):
        old = ClinicKey.objects.filter(version__lt=version)
        uids = list(old.values_list("uid", flat=True))
        deleted, _ = old.delete()
    for uid in uids:  # copies of the rows (backups) cannot be unwrapped either
        keystore.secret_destroy(clinic_id, uid)
    forget_cached_keys()
    return deleted


def destroy_clinic_keys(clinic_id: int) -> None:
    """After a clinic's purge has committed: the secrets of all its keys go, so no copy of its
    data (a backup, a dump) can be opened with anything the system still holds."""
    keystore.clinic_destroy(clinic_id)
    forget_cached_keys()


def rewrap_all() -> int:
    """Re-wraps every clinic's data keys under the current master key (and moves keys of
    wrap version 1 to 2, with a keystore secret); data is untouched."""
    count = 0
    current = current_master_key_id()
    with platform_scope("re-wrap every clinic data key under the current master key"):
        stale = ClinicKey.objects.exclude(master_key_id=current, wrap_version=WRAP_VERSION)
        # Only these columns: the migration that first ran this knew no later ones.
        columns = ("clinic_id", "uid", "master_key_id", "wrapped_key", "wrap_version")
        for row in stale.only(*columns).order_by("pk"):
            key = _unwrap(
                row.clinic_id, row.uid, row.master_key_id, bytes(row.wrapped_key), row.wrap_version
            )
            if row.wrap_version >= 2:
                secret = _secret(row.clinic_id, row.uid)
            else:
                secret = keystore.secret_create(row.clinic_id, row.uid)
            row.master_key_id, row.wrapped_key = _wrap(key, row.clinic_id, row.uid, secret)
            row.wrap_version = WRAP_VERSION
            row.save(update_fields=["master_key_id", "wrapped_key", "wrap_version"])
            count += 1
    forget_cached_keys()
    return count


def verify_master_keys() -> None:
    """Start-up check: every master key id in use is configured and opens its data keys."""
    with platform_scope("start-up check of the master keys"):
        seen: set[str] = set()
        for row in ClinicKey.objects.order_by("master_key_id", "pk"):
            if row.master_key_id in seen:
                continue
            _unwrap(
                row.clinic_id, row.uid, row.master_key_id, bytes(row.wrapped_key), row.wrap_version
            )
            seen.add(row.master_key_id)


def forget_cached_keys() -> None:
    _opened.cache_clear()
    _by_uid.clear()
