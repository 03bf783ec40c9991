"""/healthz and /readyz (issue 11): liveness without the database; readiness names each
check (database, migrations, a worker's heartbeat within the last minute, Redis when set) and
answers 503 when one fails. Nothing in either answer is about a clinic or a person."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from bookwell.core import health
from bookwell.core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db
REDIS = os.environ.get("BOOKWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_liveness_answers_without_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db(transaction=True)  # (the worker closes its connections)
def test_ready_once_a_worker_has_run_and_not_when_its_heartbeat_is_old():
    without = Client().get("/readyz")
    assert without.status_code == 503
    assert without.json() == {
        "status": "not ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "no worker has run"},
    }
    call_command("worker", "--once", stdout=io.StringIO())  # a worker runs one round and stops
    assert not WorkerHeartbeat.objects.exists()  # (a clean stop takes its row away)
    health.heartbeat(worker="host:1", started_at=timezone.now())
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert set(ready.json()["checks"].values()) == {"ok"}
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - dt.timedelta(seconds=61))
    stale = Client().get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["worker"] == "last heartbeat 61 s ago"


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_stamps_its_heartbeat_each_round(monkeypatch):
    from bookwell.core.management.commands import worker

    seen: list[int] = []

    def dispatch(limit: int) -> dict[str, int]:
        seen.append(WorkerHeartbeat.objects.count())  # during the round: the worker's row
        return {}

    monkeypatch.setattr(worker, "dispatch_due", dispatch)
    call_command("worker", "--once", stdout=io.StringIO())
    assert seen == [1]


def test_a_stamp_updates_the_row_it_does_not_add_one():
    start = timezone.now()
    health.heartbeat(worker="host:1", started_at=start, now=start)
    health.heartbeat(worker="host:1", started_at=start, now=start + dt.timedelta(seconds=2))
    [row] = WorkerHeartbeat.objects.all()
    assert row.seen_at == start + dt.timedelta(seconds=2) and row.started_at == start


def test_unapplied_migrations_make_it_not_ready(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    health.heartbeat(worker="host:1", started_at=timezone.now())
    monkeypatch.setattr(health, "_migrated", set())
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("m", 0)] * 2)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "2 not applied"


def test_a_database_that_fails_is_named_by_class_and_the_rest_not_checked(monkeypatch, caplog):
    def broken(alias: str) -> str:
        raise ConnectionError("could not connect to server at 10.1.2.3 as bookwell_app")

    monkeypatch.setattr(health, "_database", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "error: ConnectionError",
        "migrations": "not checked",
        "worker": "not checked",
    }
    assert b"10.1.2.3" not in response.content
    # An answer, not a crash: no server-error log line at every probe.
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_redis_is_checked_when_configured():
    health.heartbeat(worker="host:1", started_at=timezone.now())
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):  # nothing listens there
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "error: ConnectionError"
    with override_settings(REDIS_URL=REDIS):
        try:
            health._redis()
        except Exception:
            pytest.skip("no Redis on this machine")
        response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["redis"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_long_round_keeps_the_heartbeat_fresh(monkeypatch):
    """The heartbeat is stamped from a thread as well: a round held up by a slow mail server
    is not a dead worker."""
    import time

    from bookwell.core.management.commands import worker

    stamps: list[dt.datetime] = []

    def slow(limit: int) -> dict[str, int]:
        first = WorkerHeartbeat.objects.get().seen_at
        time.sleep(0.5)
        stamps.extend([first, WorkerHeartbeat.objects.get().seen_at])
        return {}

    monkeypatch.setattr(worker, "BEAT_EVERY_S", 0.05)
    monkeypatch.setattr(worker, "dispatch_due", slow)
    call_command("worker", "--once", stdout=io.StringIO())
    first, during = stamps
    assert during > first  # stamped again while the round was still running


@pytest.mark.django_db(transaction=True)
def test_a_hung_round_stops_the_heartbeat(monkeypatch):
    """Past ROUND_LIMIT_S the thread no longer vouches for the round: a hung worker shows as
    gone (readiness, the no-worker alert)."""
    import time

    from bookwell.core.management.commands import worker

    stamps: list[dt.datetime] = []

    def hung(limit: int) -> dict[str, int]:
        time.sleep(0.4)  # past the limit: no stamps from here on
        stamps.append(WorkerHeartbeat.objects.get().seen_at)
        time.sleep(0.4)
        stamps.append(WorkerHeartbeat.objects.get().seen_at)
        return {}

    monkeypatch.setattr(worker, "BEAT_EVERY_S", 0.05)
    monkeypatch.setattr(worker, "ROUND_LIMIT_S", 0.2)
    monkeypatch.setattr(worker, "dispatch_due", hung)
    call_command("worker", "--once", stdout=io.StringIO())
    assert stamps[0] == stamps[1]
