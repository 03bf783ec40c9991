"""Secrets kept outside the database, one per clinic data key (P16: crypto-shredding).

A clinic's data keys are stored in the database wrapped under a key-encryption key derived
from the operator's master key *and* a random secret kept here, in KEYSTORE_DIR. A copy of
the database alone (a backup, a dump) cannot unwrap them. Deleting a clinic deletes its
secrets: every copy of its data, backups included, is unreadable from then on, even though the
master key lives on for the other clinics. Keep KEYSTORE_DIR on storage every web and worker
process shares, and back it up apart from the database, for no longer than a deleted clinic's
data may stay readable.

Files: KEYSTORE_DIR/<clinic id>/<key uid>.key, 32 random bytes each, created once (O_EXCL)
and never changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

from bookwell.core import crypto

SECRET_BYTES = 32


class SecretMissing(Exception):
    """No secret for that key: it was destroyed (or the keystore is not where it should be)."""


def _root() -> Path:
    return Path(settings.KEYSTORE_DIR)


def _path(clinic_id: int, uid: str) -> Path:
    if not uid.isalnum():
        raise ValueError("a key uid is alphanumeric")
    return _root() / str(int(clinic_id)) / f"{uid}.key"


def secret_create(clinic_id: int, uid: str) -> bytes:
    """A new secret for a new data key (a uid is never reused)."""
    path = _path(clinic_id, uid)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = crypto.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


def secret_read(clinic_id: int, uid: str) -> bytes:
    try:
        secret = _path(clinic_id, uid).read_bytes()
    except FileNotFoundError:
        raise SecretMissing(
            f"no keystore secret for data key {uid} of clinic {clinic_id}"
        ) from None
    if len(secret) != SECRET_BYTES:
        raise SecretMissing(f"the keystore secret for data key {uid} is damaged")
    return secret


def secret_destroy(clinic_id: int, uid: str) -> None:
    _path(clinic_id, uid).unlink(missing_ok=True)


def clinic_destroy(clinic_id: int) -> None:
    """Every secret of the clinic's keys goes."""
    shutil.rmtree(_root() / str(int(clinic_id)), ignore_errors=True)


def clinic_ids() -> set[int]:
    """The clinics the keystore holds secrets for."""
    root = _root()
    if not root.is_dir():
        return set()
    return {int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()}
