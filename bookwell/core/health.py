"""Liveness and readiness (issue 11), for load balancers and the operator's monitoring.

Readiness asks what the service needs to do its work: the database answers, every migration
this code knows is applied, a `bookwell worker` stamped its heartbeat within the last minute
(reminders and confirmations go out only while one runs), and Redis answers when it is
configured. The answer names each check and its state; never a clinic, a person or an error's
message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from bookwell.core.models import WorkerHeartbeat

OK = "ok"
_migrated: set[str] = set()  # aliases seen fully migrated (a process's code does not change)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]


def heartbeat(*, worker: str, started_at: dt.datetime, now: dt.datetime | None = None) -> None:
    """Stamps the worker's heartbeat (one statement: insert, or update the stamp)."""
    now = now or timezone.now()
    WorkerHeartbeat.objects.bulk_create(
        [WorkerHeartbeat(worker=worker, started_at=started_at, seen_at=now)],
        update_conflicts=True,
        unique_fields=["worker"],
        update_fields=["seen_at"],
    )


def heartbeat_end(worker: str) -> None:
    """A worker that stops cleanly takes its row away (a killed one's row just ages)."""
    WorkerHeartbeat.objects.filter(worker=worker).delete()


def _database(alias: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _migrations(alias: str) -> str:
    if alias in _migrated:
        return OK
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return f"{len(plan)} not applied"
    _migrated.add(alias)
    return OK


def _worker(now: dt.datetime) -> str:
    newest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if newest is None:
        return "no worker has run"
    age = (now - newest).total_seconds()
    if age > settings.WORKER_HEARTBEAT_MAX_AGE_S:
        return f"last heartbeat {int(age)} s ago"
    return OK


def _redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        return OK if client.ping() else "not answering"
    finally:
        client.close()


def readiness(*, now: dt.datetime | None = None) -> Readiness:
    now = now or timezone.now()
    checks: dict[str, str] = {}
    alias = DEFAULT_DB_ALIAS
    for name, check in (
        ("database", lambda: _database(alias)),
        ("migrations", lambda: _migrations(alias)),
        ("worker", lambda: _worker(now)),
    ):
        if checks and checks.get("database", OK) != OK:
            checks[name] = "not checked"  # nothing else answers without the database
            continue
        try:
            checks[name] = check()
        except Exception as exc:  # the class only: a driver's message can name hosts or users
            checks[name] = f"error: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            checks["redis"] = _redis()
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    return Readiness(all(v == OK for v in checks.values()), checks)
