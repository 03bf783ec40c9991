"""Savepoints on PostgreSQL go with the next statement instead of in round trips of their
own (core.db.postgresql), and still undo exactly what ran under them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bookwell.core.db.statements import fetch_batch, insert_statement
from bookwell.core.models import PeriodicRun

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AT = dt.datetime(2031, 6, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


def _run(job: str) -> PeriodicRun:
    return PeriodicRun(job=job, period_start=AT, worker="test")


def _jobs() -> set[str]:
    return set(PeriodicRun.objects.values_list("job", flat=True))


def test_an_inner_block_costs_no_round_trip_of_its_own():
    with transaction.atomic():
        _run("outer").save()
        with CaptureQueriesContext(connection) as sent:
            with transaction.atomic():
                pass
            with transaction.atomic(), transaction.atomic():
                pass
            try:
                with transaction.atomic():
                    raise RuntimeError("left before any statement")
            except RuntimeError:
                pass
        assert sent.captured_queries == []  # Django alone sends SAVEPOINT and RELEASE each time
        assert _jobs() == {"outer"}
    assert _jobs() == {"outer"}


def test_a_rollback_undoes_what_ran_under_the_savepoint_and_nothing_else():
    with transaction.atomic():
        _run("kept").save()
        try:
            with transaction.atomic():
                _run("undone").save()
                with transaction.atomic():
                    _run("undone too").save()
                raise RuntimeError
        except RuntimeError:
            pass
        _run("after").save()
    assert _jobs() == {"kept", "after"}


def test_a_refused_statement_in_a_batch_rolls_back_to_the_savepoint_sent_with_it():
    with transaction.atomic():
        _run("first").save()
        twin = _run("first")  # the same job and period: refused by the unique constraint
        with pytest.raises(IntegrityError), transaction.atomic():
            fetch_batch("default", [insert_statement(_run("second")), insert_statement(twin)])
        # The transaction goes on: the savepoint went ahead of the batch, and it rolled back.
        fetch_batch("default", [insert_statement(_run("third"))])
    assert _jobs() == {"first", "third"}


def test_savepoints_released_late_still_nest():
    with transaction.atomic():
        with transaction.atomic():
            _run("a").save()
        with transaction.atomic():  # the release of the first waits for this one's statement
            _run("b").save()
            try:
                with transaction.atomic():
                    _run("c").save()
                    raise RuntimeError
            except RuntimeError:
                pass
        assert _jobs() == {"a", "b"}
    assert _jobs() == {"a", "b"}
