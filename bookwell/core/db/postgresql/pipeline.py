"""A batch of statements in one round trip, written straight to libpq's pipeline mode.

psycopg's own pipeline flushes the socket and polls it after every statement it queues: a
system call and a wake-up of the server process per statement, and most of a booking's
client time (bench/api_load.py). Here the whole batch is queued, flushed once and read
back once. Measured on the 2-core machine, eight prepared statements: 275 µs of client CPU
through psycopg's pipeline, 68 µs here.

Only the pieces psycopg documents as its adaptation protocol are used to turn values into
parameters and rows back into values (`Transformer`), and its C generators to wait on the
socket, so types, time zones and errors come out exactly as through a psycopg cursor.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import fetch_many, send

_PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)
_MAX_PREPARED = 256  # per connection; past it they are all dropped and prepared again


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> tuple[str, int]:
    """`%s` placeholders as PostgreSQL's `$1, $2, ...` (and `%%` as `%`), and their count."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise psycopg.ProgrammingError(f"only %s placeholders are supported, not %{match[1]}")
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(replace, sql), count


@dataclass
class Prepared:
    """The statements prepared on one server session: (query, parameter types) -> name."""

    names: dict[tuple[bytes, tuple[int, ...]], bytes] = field(default_factory=dict)
    serial: int = 0

    def new_name(self) -> bytes:
        self.serial += 1
        return b"bw_%d" % self.serial


@dataclass
class _Command:
    query: bytes
    params: Sequence[pq.abc.Buffer | None] | None = None
    types: Sequence[int] | None = None
    formats: Sequence[pq.Format] | None = None
    prepare_as: bytes | None = None  # a Parse goes first, under this name
    run_as: bytes | None = None  # run the statement prepared under this name
    key: tuple[bytes, tuple[int, ...]] | None = None
    rows_wanted: bool = False


def run(
    raw: psycopg.Connection[Any],
    statements: Sequence[tuple[str, Sequence[Any]]],
    *,
    before: Sequence[tuple[str, Sequence[Any]]] = (),
    prepared: Prepared | None,
) -> list[list[tuple[Any, ...]]]:
    """Runs `before` (statements whose rows are not wanted: savepoints, the clinic scope),
    then `statements`, in one round trip, with the BEGIN in it when a transaction is due to
    begin. Returns each statement's rows (none for a write without RETURNING). With
    `prepared`, statements with parameters run as server-side prepared ones (prepared here
    the first time). The first error is raised once every answer has been read; the
    statements after it do not run."""
    tx = Transformer(raw)
    encoding = raw.info.encoding
    commands: list[_Command] = []
    pg = raw.pgconn
    if not raw.autocommit and pg.transaction_status == pq.TransactionStatus.IDLE:
        commands.append(_Command(raw._get_tx_start_command()))  # what psycopg would send
    if prepared is not None and len(prepared.names) >= _MAX_PREPARED:
        commands.append(_Command(b"DEALLOCATE ALL"))
        prepared.names.clear()
    # Every value is adapted before anything is queued: a value that cannot be sent fails
    # here, with nothing on its way.
    parsing: dict[tuple[bytes, tuple[int, ...]], bytes] = {}  # prepared in this batch
    wanted = [False] * len(before) + [True] * len(statements)
    for (sql, params), rows_wanted in zip([*before, *statements], wanted, strict=True):
        if not params and not rows_wanted:  # a savepoint: nothing to prepare
            commands.append(_Command(sql.encode(encoding)))
            continue
        text, count = numbered(sql)
        if len(params) != count:
            raise psycopg.ProgrammingError(
                f"the statement has {count} placeholders but {len(params)} parameters were given"
            )
        values = tx.dump_sequence(params, [PyFormat.AUTO] * count)
        types, formats = tuple(tx.types or ()), list(tx.formats or ())
        query = text.encode(encoding)
        command = _Command(query, values, types, formats, rows_wanted=rows_wanted)
        if prepared is not None:
            command.key = (query, types)
            name = prepared.names.get(command.key) or parsing.get(command.key)
            if name is None:
                name = command.prepare_as = parsing[command.key] = prepared.new_name()
            command.run_as = name
        commands.append(command)

    with raw.lock:
        pg.enter_pipeline_mode()
        try:
            for c in commands:
                if c.prepare_as is not None:
                    pg.send_prepare(c.prepare_as, c.query, param_types=c.types)
                if c.run_as is not None:
                    pg.send_query_prepared(c.run_as, c.params, param_formats=c.formats)
                else:
                    pg.send_query_params(
                        c.query, c.params, param_formats=c.formats, param_types=c.types
                    )
            pg.pipeline_sync()
            raw.wait(send(pg))
            first_error: pq.abc.PGresult | None = None
            out: list[list[tuple[Any, ...]]] = []
            for c in commands:
                if c.prepare_as is not None:
                    (parsed,) = raw.wait(fetch_many(pg))
                    if parsed.status == pq.ExecStatus.COMMAND_OK and prepared is not None:
                        assert c.key is not None
                        prepared.names[c.key] = c.prepare_as
                    elif parsed.status == pq.ExecStatus.FATAL_ERROR and first_error is None:
                        first_error = parsed
                results = raw.wait(fetch_many(pg))
                result = results[-1] if results else None
                if result is None or result.status == pq.ExecStatus.PIPELINE_ABORTED:
                    continue
                if result.status == pq.ExecStatus.FATAL_ERROR:
                    first_error = first_error or result
                    continue
                if c.rows_wanted:
                    if result.status == pq.ExecStatus.TUPLES_OK:
                        tx.set_pgresult(result)
                        out.append(tx.load_rows(0, result.ntuples, tuple))
                    else:
                        out.append([])
            (synced,) = raw.wait(fetch_many(pg))
            assert synced.status == pq.ExecStatus.PIPELINE_SYNC, synced.status
        finally:
            if pg.pipeline_status != pq.PipelineStatus.OFF:
                # A broken connection cannot leave it: the error that broke it is on its way.
                with contextlib.suppress(psycopg.OperationalError):
                    pg.exit_pipeline_mode()
    if first_error is not None:
        if prepared is not None and first_error.error_field(pq.DiagnosticField.SQLSTATE) in (
            b"26000",  # invalid_sql_statement_name: the server no longer has it
            b"0A000",  # feature_not_supported: "cached plan must not change result type"
        ):
            prepared.names.clear()
        raise errors.error_from_result(first_error, encoding=encoding)
    return out
