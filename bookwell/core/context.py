"""The active clinic for the current request or job (P1).

Tenant-owned querysets read it and refuse to run without it. Work that must cross clinics
(platform jobs: purges, scans, sign-up) says so explicitly and greppably with
`platform_scope("why")`. Context variables, not module globals: each thread and task has its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class NoActiveClinic(RuntimeError):
    """A tenant-owned model was queried or written with no clinic context active."""


class HasPk(Protocol):
    pk: int


_clinic_id: ContextVar[int | None] = ContextVar("bookwell_clinic_id", default=None)
_platform_reason: ContextVar[str | None] = ContextVar("bookwell_platform_reason", default=None)
_outside_tenancy: ContextVar[bool] = ContextVar("bookwell_outside_tenancy", default=False)


def active_clinic_id() -> int | None:
    return _clinic_id.get()


def in_platform_scope() -> bool:
    return _platform_reason.get() is not None


def require_clinic_id() -> int:
    clinic_id = _clinic_id.get()
    if clinic_id is None:
        raise NoActiveClinic("no clinic context is active")
    return clinic_id


@contextmanager
def clinic_context(clinic: HasPk | int) -> Iterator[None]:
    """Scope everything inside to one clinic (also ends any platform scope around it)."""
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    if clinic_id is None:
        raise NoActiveClinic("cannot activate an unsaved clinic")
    t1 = _clinic_id.set(int(clinic_id))
    t2 = _platform_reason.set(None)
    try:
        yield
    finally:
        _platform_reason.reset(t2)
        _clinic_id.reset(t1)


@contextmanager
def platform_scope(reason: str) -> Iterator[None]:
    """Run unscoped across all clinics. Use only for platform work; `reason` documents why."""
    if not reason:
        raise ValueError("platform_scope needs a reason")
    t1 = _clinic_id.set(None)
    t2 = _platform_reason.set(reason)
    try:
        yield
    finally:
        _platform_reason.reset(t2)
        _clinic_id.reset(t1)


def db_scope_settings() -> tuple[str, str]:
    """The values of the PostgreSQL settings the row-level security policies read."""
    clinic_id = _clinic_id.get()
    return ("" if clinic_id is None else str(clinic_id), "on" if in_platform_scope() else "")


@contextmanager
def outside_tenancy() -> Iterator[None]:
    """For statements that read only tables without clinic rows (the session, the user):
    PostgreSQL need not be told the clinic context first (one round trip less on every
    signed-in request). Never wrap anything that reads a clinic's data."""
    token = _outside_tenancy.set(True)
    try:
        yield
    finally:
        _outside_tenancy.reset(token)


def is_outside_tenancy() -> bool:
    return _outside_tenancy.get()
