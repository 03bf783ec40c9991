"""PostgreSQL backend that carries the clinic context into the database session (P1).

Row-level security policies compare each row's clinic_id with the setting
`bookwell.clinic_id` (and let `bookwell.all_clinics = 'on'` through for platform work).
Before a query runs, this wrapper makes those settings match the active context. Inside a
transaction the value is set transaction-locally (`set_config(..., true)`), so it ends with
the transaction; outside one it is set for the session. What the connection holds is tracked
and forgotten at every commit, rollback and reconnect, so a stale value is never trusted.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from bookwell.core.context import db_scope_settings, is_outside_tenancy

SET_SCOPE_SQL = (
    "SELECT set_config('bookwell.clinic_id', %s, %s), set_config('bookwell.all_clinics', %s, %s)"
)


def _is_transaction_control(sql: object) -> bool:
    # SAVEPOINT / RELEASE / ROLLBACK TO touch no rows, and may run in an aborted transaction
    # where any other statement (our set_config) would fail.
    return isinstance(sql, str) and sql.lstrip()[:9].upper() in {
        "SAVEPOINT",
        "RELEASE S",
        "ROLLBACK ",
    }


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scope_in_effect: tuple[str, str] | None = None
        self.execute_wrappers.append(self._apply_clinic_scope)

    def _apply_clinic_scope(
        self, execute: Any, sql: Any, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        wanted = db_scope_settings()
        if (
            wanted != self._scope_in_effect
            and not _is_transaction_control(sql)
            and not is_outside_tenancy()  # the session and user reads: no clinic rows
        ):
            local = self.in_atomic_block
            # A plain cursor of the raw connection: the query's own cursor may be a named
            # (server-side) one, which would only DECLARE the statement, never run it.
            with self.connection.cursor() as raw:
                raw.execute(SET_SCOPE_SQL, (wanted[0], local, wanted[1], local))
            self._scope_in_effect = wanted
        return execute(sql, params, many, context)

    def is_usable(self) -> bool:
        """Django's health check before a connection is reused, without a round trip when the
        connection is idle and the server has sent nothing.

        Django asks the server `SELECT 1` at the start of every request (conn_health_checks):
        one round trip of the five a cached calendar page needs. A server that restarts,
        terminates the backend or times out an idle session writes an error to the socket
        and closes it, so an idle connection with something to read is suspect: only then is
        the server asked. A connection in any other state is asked too, as Django does.
        """
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status == TransactionStatus.IDLE:
            try:
                # poll(), not select(): select() cannot watch descriptors above 1023.
                poller = select.poll()
                poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
                readable = poller.poll(0)
            except (OSError, ValueError):
                return False
            if not readable:
                return True
        return bool(super().is_usable())

    def _forget_scope(self) -> None:
        self._scope_in_effect = None

    def connect(self) -> None:
        self._forget_scope()
        super().connect()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._forget_scope()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._forget_scope()

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self._forget_scope()

    def _set_autocommit(self, autocommit: bool) -> None:
        try:
            super()._set_autocommit(autocommit)  # type: ignore[misc]
        finally:
            self._forget_scope()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._forget_scope()
