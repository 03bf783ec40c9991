"""Prometheus metrics (issue 11, P21): how the service is doing, never who uses it.

Labels are route names, methods, status classes, booking sources and denial kinds: fixed,
small sets. Never an id, a clinic, a path or anything a person typed.

In-process metrics (request latency, bookings created, availability computation time,
sign-in failures, access denials) are counted by each process; under `bookwell serve` the
gunicorn workers share them through prometheus-client's multiprocess mode (the directory in
PROMETHEUS_MULTIPROC_DIR, which `serve` sets and empties). What lives in the database (the
task queue, failed deliveries, the workers' heartbeats) is read from it at each scrape, so it
is the same whichever process answers and however many workers run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "bookwell_http_request_duration_seconds",
    "Time to answer a request, by route name (never an id), method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BOOKINGS = Counter(
    "bookwell_bookings_created",
    "Appointments booked, by where they were booked (online, staff, api...).",
    ["source"],
)
AVAILABILITY_SECONDS = Histogram(
    "bookwell_availability_seconds",
    "Time to compute bookable times (a range of days, or one start).",
    ["mode"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SIGNIN_FAILURES = Counter(
    "bookwell_signin_failures",
    "Failed sign-ins (a wrong password, a wrong second factor, a locked account).",
    ["outcome"],
)
DENIALS = Counter(
    "bookwell_access_denials",
    "Requests refused for want of a permission, a scope or a valid token.",
    ["action"],
)


def timed_availability[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            mode = "one_start" if kwargs.get("at") is not None else "range"
            AVAILABILITY_SECONDS.labels(mode).observe(time.perf_counter() - start)

    return wrapper


def status_class(code: int) -> str:
    return f"{code // 100}xx"


class DatabaseCollector(Collector):
    """Read at each scrape, across every clinic, as counts and ages only."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """All of it, or (the database down) only `bookwell_database_up 0`: the scrape still
        answers, and the alert on it fires."""
        up = GaugeMetricFamily(
            "bookwell_database_up", "1 when the database answered this scrape's reads, else 0."
        )
        try:
            families = list(self._collect())
        except Exception as exc:  # (a database error of any kind; its message is not wanted)
            logging.getLogger("bookwell.metrics").warning(
                "metrics: database reads failed", extra={"error": type(exc).__name__}
            )
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Min
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from bookwell.core.context import platform_scope
        from bookwell.core.models import WorkerHeartbeat
        from bookwell.integrations.models import WebhookDelivery, WebhookStatus
        from bookwell.notifications.models import Delivery, DeliveryStatus

        now = timezone.now()
        hour_ago = now - dt.timedelta(hours=1)
        ready = DBTaskResult.objects.ready()
        queued = ready.aggregate(oldest=Min("enqueued_at"))
        depth = GaugeMetricFamily(
            "bookwell_task_queue_depth", "Background tasks waiting to run now."
        )
        depth.add_metric([], ready.count())
        yield depth
        age = GaugeMetricFamily(
            "bookwell_task_queue_oldest_age_seconds",
            "How long the oldest waiting task has waited (0 when none waits).",
        )
        oldest = queued["oldest"]
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield age
        failed_tasks = GaugeMetricFamily(
            "bookwell_tasks_failed_last_hour", "Background tasks that failed in the last hour."
        )
        failed_tasks.add_metric(
            [], DBTaskResult.objects.filter(status="FAILED", finished_at__gte=hour_ago).count()
        )
        yield failed_tasks
        with platform_scope("metrics: delivery failures, counted across clinics"):
            yield _failures(
                "bookwell_notification_failures_last_hour",
                "Emails and text messages whose sending failed in the last hour, by outcome: "
                "failed for good, or failed once and waiting for a retry.",
                Delivery.objects.all(), DeliveryStatus.FAILED, DeliveryStatus.PENDING, hour_ago,
            )  # fmt: skip
            yield _failures(
                "bookwell_webhook_failures_last_hour",
                "Webhook deliveries that failed in the last hour, by outcome.",
                WebhookDelivery.objects.all(), WebhookStatus.FAILED, WebhookStatus.PENDING,
                hour_ago,
            )  # fmt: skip
        newest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True)
        beat = newest.first()
        heartbeat = GaugeMetricFamily(
            "bookwell_worker_heartbeat_age_seconds",
            "Seconds since a worker last stamped its heartbeat (-1: none ever did).",
        )
        heartbeat.add_metric([], (now - beat).total_seconds() if beat else -1.0)
        yield heartbeat
        workers = GaugeMetricFamily(
            "bookwell_workers_alive", "Workers that stamped their heartbeat in the last minute."
        )
        workers.add_metric(
            [], WorkerHeartbeat.objects.filter(seen_at__gte=now - dt.timedelta(minutes=1)).count()
        )
        yield workers


def _failures(
    name: str, documentation: str, rows: Any, failed: str, pending: str, since: dt.datetime
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["state"])
    family.add_metric(["failed"], rows.filter(status=failed, updated_at__gte=since).count())
    family.add_metric(
        ["retrying"],
        rows.filter(status=pending, attempts__gt=0, updated_at__gte=since).count(),
    )
    return family


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets: this host's process metrics (all gunicorn workers' in
    multiprocess mode), then what the database says."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return body + generate_latest(database), CONTENT_TYPE_LATEST
