"""SQLite's side of the audit table's guard (PostgreSQL's is in migration 0001).

SQLite triggers cannot read a session setting, so the DELETE trigger asks a function this
module registers on every SQLite connection: deletes are refused unless the retention path
(`deletes_allowed`) is running in this thread. A connection without the function (another
program) cannot delete either: the trigger fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_allowed: ContextVar[bool] = ContextVar("audit_deletes_allowed", default=False)
# The test suite empties every table between transactional tests (Django's flush); it turns
# this on for that, and off again where it tests the guard itself.
ALLOW_FLUSH = False


@contextmanager
def deletes_allowed() -> Iterator[None]:
    token = _allowed.set(True)
    try:
        yield
    finally:
        _allowed.reset(token)


def _allowed_now() -> int:
    return 1 if (_allowed.get() or ALLOW_FLUSH) else 0


def register(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "bookwell_audit_delete_allowed", 0, _allowed_now, deterministic=False
        )
