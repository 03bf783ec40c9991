"""fetch_batch on PostgreSQL writes a batch straight to libpq's pipeline mode
(core.db.postgresql.pipeline): one round trip, values as a cursor gives them, the first
error raised with nothing after it run, statements prepared once per session and no more
than a bounded number of them."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import (
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    connection,
    transaction,
)

from bookwell.core.db.postgresql import pipeline
from bookwell.core.db.statements import fetch_batch, insert_statement
from bookwell.core.models import PeriodicRun

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AT = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


@contextlib.contextmanager
def _tracing() -> Iterator[list[str]]:
    """The protocol messages the client sends in the block (libpq's trace), once it ends."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sent: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace"
        with path.open("w") as out:
            pgconn.trace(out.fileno())
            try:
                yield sent
            finally:
                pgconn.untrace()
        sent.extend(line for line in path.read_text().splitlines() if "\tF\t" in line)


def _jobs() -> set[str]:
    return set(PeriodicRun.objects.values_list("job", flat=True))


def test_a_batch_with_its_begin_is_one_round_trip_in_the_transaction_it_opens():
    statements = [
        ("SELECT pg_current_xact_id()::text", []),
        *[("SELECT %s::int", [n]) for n in range(6)],
    ]
    with transaction.atomic():
        with _tracing() as sent:
            found = fetch_batch("default", statements)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text")
            (xact,) = cursor.fetchone()
    assert [line for line in sent if "\tSync" in line] == [sent[-1]]  # one Sync: one answer
    assert any("BEGIN" in line for line in sent)  # the transaction opened in that round trip
    assert found[0] == [(xact,)]  # and the ORM's statement after it ran in the same one
    assert [rows for rows in found[1:]] == [[(n,)] for n in range(6)]


def test_values_come_back_as_a_cursor_gives_them():
    values = [
        7,
        2**40,
        -3,
        "Grüße, 100%",
        None,
        True,
        dt.date(2031, 6, 2),
        AT,
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        decimal.Decimal("12.50"),
        1.5,
    ]
    sql = "SELECT " + ", ".join(["%s"] * len(values)) + ", '100%%'"
    ((batched,),) = fetch_batch("default", [(sql, values)])
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        expected = cursor.fetchone()
    assert batched == tuple(expected)
    assert batched[-1] == "100%"
    assert batched[7] == AT and batched[7].utcoffset() == dt.timedelta(0)


def test_a_refused_statement_raises_and_nothing_of_the_batch_stays():
    # Outside a transaction the batch is one implicit transaction: the row before the refused
    # one is not kept, and the one after never ran.
    first = PeriodicRun(job="first", period_start=AT, worker="test")
    clash = PeriodicRun(job="clash", period_start=AT, worker="test")
    clash.save()
    again = PeriodicRun(job="clash", period_start=AT, worker="test")
    after = PeriodicRun(job="after", period_start=AT, worker="test")
    with pytest.raises(IntegrityError):
        fetch_batch(
            "default", [insert_statement(first), insert_statement(again), insert_statement(after)]
        )
    assert _jobs() == {"clash"}
    (rows,) = fetch_batch("default", [("SELECT count(*) FROM core_periodicrun", [])])
    assert rows == [(1,)]  # the connection is usable again


def test_a_statement_is_prepared_once_per_session_and_a_failed_one_not_at_all():
    sql = "SELECT %s::int + 40"
    for n in range(7):
        assert fetch_batch("default", [(sql, [n])]) == [[(n + 40,)]]
    with pytest.raises(ProgrammingError):
        fetch_batch("default", [("SELEKT %s::int", [1])])
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'bw\\_%%'")
        prepared = [row[0] for row in cursor.fetchall()]
    assert prepared.count("SELECT $1::int + 40") == 1
    assert not [s for s in prepared if s.startswith("SELEKT")]
    assert fetch_batch("default", [(sql, [2])]) == [[(42,)]]


def test_the_prepared_statements_of_a_session_stay_bounded():
    for n in range(pipeline._MAX_PREPARED + 40):
        assert fetch_batch("default", [(f"SELECT %s::int + {n}", [1])]) == [[(n + 1,)]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        (count,) = cursor.fetchone()
    assert 0 < count <= pipeline._MAX_PREPARED


def test_a_session_that_lost_its_statements_recovers_after_one_refusal():
    sql = "SELECT %s::int * 2"
    assert fetch_batch("default", [(sql, [4])]) == [[(8,)]]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler resetting the session would
    with pytest.raises(ProgrammingError):
        fetch_batch("default", [(sql, [4])])
    assert fetch_batch("default", [(sql, [5])]) == [[(10,)]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        assert [row[0] for row in cursor.fetchall()] == ["SELECT $1::int * 2"]  # no leftovers


def test_a_row_that_cannot_be_read_leaves_the_connection_answering_its_own_questions():
    with pytest.raises(DataError):
        fetch_batch("default", [("SELECT 'infinity'::date, %s::text", ["theirs"])])
    assert fetch_batch("default", [("SELECT %s::text", ["mine"])]) == [[("mine",)]]
    assert PeriodicRun.objects.count() == 0  # the ORM's statements run too


def test_a_batch_interrupted_while_answers_are_on_their_way_closes_the_connection(monkeypatch):
    calls = {"n": 0}
    real = pipeline.fetch_many

    def interrupted(pgconn):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(pgconn)

    monkeypatch.setattr(pipeline, "fetch_many", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch_batch("default", [("SELECT %s::text", ["a"]), ("SELECT %s::text", ["b"])])
    monkeypatch.setattr(pipeline, "fetch_many", real)
    assert connection.connection.closed  # nothing later can take "b" for its own answer
    try:
        with pytest.raises(OperationalError):
            fetch_batch("default", [("SELECT %s::text", ["c"])])
    finally:
        connection.close()
    assert fetch_batch("default", [("SELECT %s::text", ["c"])]) == [[("c",)]]


def test_a_batch_refused_before_sending_leaves_the_savepoint_around_it_usable():
    with transaction.atomic():
        PeriodicRun.objects.create(job="outer", period_start=AT, worker="test")
        with pytest.raises(ProgrammingError), transaction.atomic():
            fetch_batch("default", [("SELECT %s::int, %s::int", [1])])
        PeriodicRun.objects.create(job="after", period_start=AT, worker="test")
    assert _jobs() == {"outer", "after"}


def test_statements_after_a_refused_one_are_prepared_when_they_next_run():
    with pytest.raises(ProgrammingError), transaction.atomic():
        fetch_batch(
            "default",
            [("SELEKT %s", [1]), ("SELECT %s::int + 100", [1]), ("SELECT %s::int + 200", [1])],
        )
    assert fetch_batch(
        "default", [("SELECT %s::int + 100", [2]), ("SELECT %s::int + 200", [2])]
    ) == [[(102,)], [(202,)]]


def test_a_wrong_number_of_values_is_refused_before_anything_is_sent():
    with transaction.atomic():
        with (
            _tracing() as sent,
            pytest.raises(ProgrammingError, match="2 placeholders but 1"),
        ):
            fetch_batch("default", [("SELECT %s::int, %s::int", [1])])
        assert connection.connection.pgconn.pipeline_status == 0  # not left in pipeline mode
        assert fetch_batch("default", [("SELECT %s::int", [3])]) == [[(3,)]]
    assert sent == []


def test_numbered_placeholders():
    assert pipeline.numbered("SELECT %s, '5%%', %s") == ("SELECT $1, '5%', $2", 2)
    with pytest.raises(psycopg.ProgrammingError):
        pipeline.numbered("SELECT %(name)s")
