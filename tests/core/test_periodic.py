"""Periodic jobs run once per period however many workers ask, again the next period, and a
failing job is logged by its name and error class only, without stopping the others."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bookwell.core import periodic
from bookwell.core.models import PeriodicRun

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2031, 3, 20, 8, 2, tzinfo=dt.UTC)


@pytest.fixture
def jobs(monkeypatch):
    calls: list[tuple[str, dt.datetime]] = []

    def failing(now: dt.datetime) -> None:
        raise ValueError("ada@example.test could not be read")  # a message with personal data

    registry = {
        "count": periodic.Job(
            "count", dt.timedelta(minutes=5), lambda now: calls.append(("count", now))
        ),
        "fail": periodic.Job("fail", dt.timedelta(minutes=5), failing),
        "hourly": periodic.Job(
            "hourly", dt.timedelta(hours=1), lambda now: calls.append(("hourly", now))
        ),
    }
    monkeypatch.setattr(periodic, "_JOBS", registry)
    return calls


def test_each_job_runs_once_per_period_whichever_worker_asks(jobs, caplog):
    with caplog.at_level(logging.DEBUG):
        first = periodic.run_due(worker="host-a:1", now=NOW)
        second = periodic.run_due(worker="host-b:7", now=NOW + dt.timedelta(minutes=1))
    assert first == ["count", "hourly"]  # the failing one is not counted as run
    assert second == []
    assert [name for name, _ in jobs] == ["count", "hourly"]

    later = periodic.run_due(worker="host-b:7", now=NOW + dt.timedelta(minutes=4))
    assert later == ["count"]  # a new five-minute period; still the same hour
    assert PeriodicRun.objects.filter(job="count").count() == 2
    assert PeriodicRun.objects.get(job="hourly").worker == "host-a:1"

    assert "periodic job failed" in caplog.text
    assert "ada@example.test" not in caplog.text and "could not be read" not in caplog.text
    failed = [r for r in caplog.records if r.getMessage() == "periodic job failed"]
    assert {(r.job, r.error) for r in failed} == {("fail", "ValueError")}


def test_period_starts_are_aligned_to_the_clock():
    every = dt.timedelta(minutes=5)
    assert periodic.period_start(NOW, every) == dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)
    assert periodic.period_start(NOW + dt.timedelta(minutes=3), every) == dt.datetime(
        2031, 3, 20, 8, 5, tzinfo=dt.UTC
    )
