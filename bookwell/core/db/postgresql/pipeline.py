"""A batch of statements in one round trip, written straight to libpq's pipeline mode.

psycopg's own pipeline flushes the socket and polls it after every statement it queues: a
system call and a wake-up of the server process per statement, and most of a booking's
client time (bench/api_load.py). Here the whole batch is queued, flushed once and read
back once. Measured on the 2-core machine, eight prepared statements: 275 µs of client CPU
through psycopg's pipeline, 68 µs here.

Only the pieces psycopg documents as its adaptation protocol are used to turn values into
parameters and rows back into values (`Transformer`), and its C generators to wait on the
socket, so types, time zones and errors come out exactly as through a psycopg cursor.

Two steps: `build` adapts every value and names every statement without touching the
connection (a value that cannot be sent fails there, with nothing on its way), `execute`
sends the lot, reads every answer up to the pipeline's Sync, leaves pipeline mode and only
then turns rows into values. A connection interrupted between sending and the Sync cannot
be trusted with what is still on its way: it is closed, and counts as broken.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.abc import Transformer as TransformerProtocol
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import fetch_many, send

_PLACEHOLDER = re.compile(r"%(.?)", re.DOTALL)
_MAX_PREPARED = 256  # per connection; past it they are all dropped and prepared again
# Names unique in the process: a session handed on (a pool) never sees a name twice.
_SERIAL = itertools.count(1)
# The server no longer has a statement we named, or will not run it as prepared (the table
# changed under it), or already has a name: forget them all, and drop them all next time.
_RESET_STATES = {"26000", "0A000", "42P05"}

Key = tuple[bytes, tuple[int, ...]]


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

    names: dict[Key, bytes] = field(default_factory=dict)
    drop_all: bool = False  # the server's set is unknown: start the next batch afresh


@dataclass
class _Command:
    query: bytes
    params: Sequence[pq.abc.Buffer | None] | None = None
    types: Sequence[int] | None = None
    formats: Sequence[pq.Format] | None = None
    prepare_as: bytes | None = None  # a Parse goes first, under this name
    run_as: bytes | None = None  # run the statement prepared under this name
    key: Key | None = None
    rows_wanted: bool = False
    drops_all: bool = False  # DEALLOCATE ALL


@dataclass
class Batch:
    commands: list[_Command]
    transformer: TransformerProtocol
    encoding: str
    prepared: Prepared | None


def build(
    raw: psycopg.Connection[Any],
    statements: Sequence[tuple[str, Sequence[Any]]],
    *,
    before: Sequence[tuple[str, Sequence[Any]]] = (),
    prepared: Prepared | None,
) -> Batch:
    """`before` (statements whose rows are not wanted: savepoints, the clinic scope), then
    `statements`, adapted and named; nothing is sent. With `prepared`, statements with
    parameters run as server-side prepared ones (prepared the first time)."""
    tx = Transformer(raw)
    encoding = raw.info.encoding
    commands: list[_Command] = []
    known: dict[Key, bytes] = {}
    if prepared is not None:
        if prepared.drop_all or len(prepared.names) >= _MAX_PREPARED:
            commands.append(_Command(b"DEALLOCATE ALL", drops_all=True))
        else:
            known = prepared.names
    parsing: dict[Key, bytes] = {}  # prepared in this batch
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
            name = known.get(command.key) or parsing.get(command.key)
            if name is None:
                name = b"bw_%d" % next(_SERIAL)
                command.prepare_as = parsing[command.key] = name
            command.run_as = name
        commands.append(command)
    return Batch(commands, tx, encoding, prepared)


def execute(raw: psycopg.Connection[Any], batch: Batch) -> list[list[tuple[Any, ...]]]:
    """Sends the batch in one round trip, with the BEGIN in it when a transaction is due to
    begin, and returns each statement's rows (none for a write without RETURNING). The first
    error is raised once every answer has been read; the statements after it do not run."""
    pg = raw.pgconn
    prepared = batch.prepared
    with raw.lock:
        commands = batch.commands
        if not raw.autocommit and pg.transaction_status == pq.TransactionStatus.IDLE:
            commands = [_Command(raw._get_tx_start_command()), *commands]  # as psycopg would
        answers: list[tuple[_Command, pq.abc.PGresult | None, pq.abc.PGresult | None]] = []
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
            for c in commands:
                parsed = _one(raw.wait(fetch_many(pg))) if c.prepare_as is not None else None
                answers.append((c, parsed, _one(raw.wait(fetch_many(pg)))))
            synced = _one(raw.wait(fetch_many(pg)))
            if synced is None or synced.status != pq.ExecStatus.PIPELINE_SYNC:
                raise errors.InternalError("the pipeline's answers ran out of step")
            pg.exit_pipeline_mode()
        except BaseException:
            # Answers may still be on their way (an interrupt, a lost connection, answers out
            # of step): nothing later may read them as its own. Close; Django reconnects.
            if pg.pipeline_status != pq.PipelineStatus.OFF:
                pg.finish()
            if prepared is not None:
                prepared.names.clear()
            raise

    first_error: pq.abc.PGresult | None = None
    out: list[list[tuple[Any, ...]]] = []
    for c, parsed, result in answers:
        if c.drops_all and result is not None and result.status == pq.ExecStatus.COMMAND_OK:
            assert prepared is not None
            prepared.names.clear()
            prepared.drop_all = False
        if parsed is not None:
            if parsed.status == pq.ExecStatus.COMMAND_OK and prepared is not None:
                assert c.key is not None and c.prepare_as is not None
                prepared.names[c.key] = c.prepare_as
            elif parsed.status == pq.ExecStatus.FATAL_ERROR:
                first_error = first_error or parsed
        if result is None:
            raise errors.InternalError("a statement of the batch had no answer")
        if result.status == pq.ExecStatus.PIPELINE_ABORTED:
            continue  # after the first error: not run
        if result.status == pq.ExecStatus.FATAL_ERROR:
            first_error = first_error or result
            continue
        if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            raise errors.NotSupportedError(f"unexpected answer in a batch: {result.status}")
        if c.rows_wanted and first_error is None:
            if result.status == pq.ExecStatus.TUPLES_OK:
                batch.transformer.set_pgresult(result)
                out.append(batch.transformer.load_rows(0, result.ntuples, tuple))
            else:
                out.append([])
    if first_error is not None:
        state = first_error.error_field(pq.DiagnosticField.SQLSTATE)
        if prepared is not None and state is not None and state.decode() in _RESET_STATES:
            prepared.names.clear()
            prepared.drop_all = True
        raise errors.error_from_result(first_error, encoding=batch.encoding)
    return out


def _one(results: list[pq.abc.PGresult]) -> pq.abc.PGresult | None:
    return results[-1] if results else None
