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
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from bookwell.core.context import db_scope_settings, is_outside_tenancy
from bookwell.core.db.postgresql import pipeline

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
        # Savepoint statements not sent yet: (the savepoint a SAVEPOINT creates, or None for
        # a RELEASE; the statement), in order.
        self._unsent: list[tuple[str | None, str]] = []
        self._sent: set[str] = set()  # savepoints created on the server, not yet released
        self._prepared = pipeline.Prepared()  # fetch_prepared's statements on this session
        self.execute_wrappers.append(self._apply_clinic_scope)

    def _scope_params(self) -> tuple[tuple[str, bool, str, bool], tuple[str, str]] | None:
        """SET_SCOPE_SQL's parameters when the session's settings must change first."""
        wanted = db_scope_settings()
        if wanted == self._scope_in_effect or is_outside_tenancy():
            return None  # outside tenancy: the session and user reads, no clinic rows
        local = self.in_atomic_block
        return (wanted[0], local, wanted[1], local), wanted

    def _apply_clinic_scope(
        self, execute: Any, sql: Any, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        if self._unsent:
            self._send_unsent()
        scope = None if _is_transaction_control(sql) else self._scope_params()
        if scope is not None:
            # A plain cursor of the raw connection: the query's own cursor may be a named
            # (server-side) one, which would only DECLARE the statement, never run it.
            with self.connection.cursor() as raw:
                raw.execute(SET_SCOPE_SQL, scope[0])
            self._scope_in_effect = scope[1]
        return execute(sql, params, many, context)

    def fetch_prepared(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Runs statements as server-side prepared statements, all in one round trip
        (libpq's pipeline mode, queued and flushed once: pipeline.run), and returns each
        one's rows (none for a write without RETURNING).

        For the hottest paths (availability before every booking, the booking's own writes;
        a failing statement raises, and the ones after it do not run): PostgreSQL plans a
        statement once per connection instead of at every request, which cost more than
        executing them (bench/api_load.py). The clinic settings go first in the same round
        trip when they must change. Values are bound server-side, so each statement is one
        statement (no `;`). Logged like any query when queries are being captured.
        """
        self.ensure_connection()
        self.validate_no_broken_transaction()
        began = time.monotonic()
        raw = self.connection
        scope = self._scope_params()
        unsent = [sql for _sid, sql in self._unsent]
        with self.wrap_database_errors:
            before: list[tuple[str, Sequence[Any]]] = [(sql, ()) for sql in unsent]
            if scope is not None:
                before.append((SET_SCOPE_SQL, scope[0]))
            batch = pipeline.build(
                raw,
                statements,
                before=before,
                prepared=self._prepared if settings.DB_PREPARED_STATEMENTS else None,
            )
            # Built (a value that cannot be sent is refused above, with the savepoints still
            # waiting): from here they count as sent, even if a later statement fails.
            self._take_unsent()
            rows = pipeline.execute(raw, batch)
        if scope is not None:
            self._scope_in_effect = scope[1]
        if self.queries_logged:
            self.queries_log.append(
                {
                    "sql": ";\n".join([*unsent, *(sql for sql, _ in statements)]),
                    "time": f"{time.monotonic() - began:.3f}",
                }
            )
        return rows

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        # A new session has no prepared statements. psycopg's own preparing stays off as
        # Django leaves it: only fetch_prepared's statements are prepared (pipeline).
        self._prepared = pipeline.Prepared()
        return connection

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

    def _end_transaction_state(self) -> None:
        self._unsent.clear()  # COMMIT and ROLLBACK end every savepoint
        self._sent.clear()
        self._forget_scope()

    def connect(self) -> None:
        self._end_transaction_state()
        super().connect()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._end_transaction_state()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._end_transaction_state()

    # --- Savepoints without round trips of their own -------------------------------------
    # Django sends SAVEPOINT when an inner atomic block opens and RELEASE SAVEPOINT when it
    # closes, each in a round trip of its own: two of a booking's ten, made inside the
    # request's transaction (bench/api_load.py). Here they wait and go with the next
    # statement; a savepoint nothing ran under is never sent, and COMMIT or ROLLBACK ends
    # whatever is still waiting. Only rolling back to a savepoint that was sent needs the
    # server at once.

    def _savepoint(self, sid: str) -> None:
        self._unsent.append((sid, self.ops.savepoint_create_sql(sid)))

    def _savepoint_commit(self, sid: str) -> None:
        if self._forget_unsent_from(sid):
            return  # never sent: nothing to release
        if sid in self._sent:
            self._sent.discard(sid)
            self._unsent.append((None, self.ops.savepoint_commit_sql(sid)))
        # Otherwise it was rolled back before it was ever sent (Django releases after a
        # rollback): it does not exist on the server.

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            if self._forget_unsent_from(sid) or sid not in self._sent:
                return  # never sent: nothing ran under it
            # Whatever still waits came after it (inner savepoints), and the rollback ends it.
            self._unsent.clear()
            with self.wrap_database_errors:
                self.connection.execute(self.ops.savepoint_rollback_sql(sid))
        finally:
            self._forget_scope()

    def _forget_unsent_from(self, sid: str) -> bool:
        """Drops an unsent savepoint and what waits after it; False if it is not waiting."""
        for i, (created, _sql) in enumerate(self._unsent):
            if created == sid:
                del self._unsent[i:]
                return True
        return False

    def _take_unsent(self) -> list[str]:
        # Taken before sending: once on their way they count as sent, even when a later
        # statement of the same round trip fails.
        self._sent.update(sid for sid, _sql in self._unsent if sid is not None)
        unsent = [sql for _sid, sql in self._unsent]
        self._unsent.clear()
        return unsent

    def _send_unsent(self) -> None:
        unsent = self._take_unsent()
        with self.wrap_database_errors:
            # No parameters: one simple query. Not logged as queries of their own: they ride
            # along with the statement that follows.
            self.connection.execute("; ".join(unsent))

    def _set_autocommit(self, autocommit: bool) -> None:
        try:
            super()._set_autocommit(autocommit)  # type: ignore[misc]
        finally:
            self._end_transaction_state()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._end_transaction_state()
