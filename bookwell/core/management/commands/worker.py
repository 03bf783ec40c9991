"""`bookwell worker`: runs background work until stopped.

Each round it runs the periodic jobs that are due (once per period across all workers), the
queued django.tasks (django-tasks-db), the notifications outbox's due deliveries (new,
retries, and those a dead worker left behind) and the due webhook deliveries. Several
workers, on one host or many, can run side by side against PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

from bookwell.core import periodic
from bookwell.core.health import heartbeat, heartbeat_end
from bookwell.core.logformat import log_context
from bookwell.integrations import webhooks
from bookwell.notifications.services import dispatch_due

logger = logging.getLogger("bookwell.worker")


class Command(BaseCommand):
    help = "Run background work: periodic jobs, queued tasks and due notifications."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
        parser.add_argument("--batch", type=int, default=50, help="deliveries per round")
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args: Any, interval: float, batch: int, once: bool, **options: Any) -> None:
        from bookwell.tenancy.keyring import KeyringError, verify_master_keys

        try:
            verify_master_keys()  # a wrong master key stops start-up, naming its id only
        except KeyringError as exc:
            raise CommandError(f"refusing to start: {exc}") from exc
        worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}"
        self.running = True

        def stop(signum: int, frame: FrameType | None) -> None:
            self.running = False  # finish the message in hand, then leave

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        tasks = TaskWorker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=batch,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        started_at = timezone.now()
        # Stamped from a thread too: a long round (slow SMTP, many deliveries) is no dead
        # worker. A hung one shows in the queue's age instead (alerts.yml).
        stop_beating = threading.Event()
        self.round_started = time.monotonic()
        beat = threading.Thread(
            target=_beat,
            args=(worker_id, started_at, stop_beating, lambda: self.round_started),
            daemon=True,
        )
        beat.start()
        self.stdout.write(f"Bookwell worker {worker_id} started")
        self.stdout.flush()
        while self.running:
            close_old_connections()
            counts: dict[str, int] = {}
            self.round_started = time.monotonic()
            with log_context():  # the round's lines share one id
                try:
                    heartbeat(worker=worker_id, started_at=started_at)
                    periodic.run_due(worker=worker_id)
                    counts = dispatch_due(limit=batch)
                    for outcome, n in webhooks.dispatch_due(limit=batch).items():
                        counts[f"webhook_{outcome}"] = n
                    tasks.running = True
                    tasks._run_tasks = 0
                    tasks.run()
                except Exception as exc:
                    # A worker keeps working (the database went away, a bug in one job...): the
                    # error's class is logged, never its message.
                    logger.error("worker round failed", extra={"error": type(exc).__name__})
                    counts = {}
            close_old_connections()
            if once:
                break
            if not counts and self.running:
                time.sleep(interval)
        stop_beating.set()
        beat.join(timeout=15)
        with contextlib.suppress(Exception):  # (the database may be what stopped it)
            heartbeat_end(worker_id)
        self.stdout.write("Bookwell worker stopped")


BEAT_EVERY_S = 15
# A round running longer than this is hung, not slow: the thread stops vouching for it, and
# /readyz and the no-worker alert see the worker gone.
ROUND_LIMIT_S = 600


def _beat(worker_id: str, started_at: Any, stop: threading.Event, round_started: Any) -> None:
    """Stamps the heartbeat every BEAT_EVERY_S seconds until told to stop, while the current
    round is younger than ROUND_LIMIT_S (its own database connection, closed at the end)."""
    from django.db import connection

    try:
        while not stop.wait(BEAT_EVERY_S):
            if time.monotonic() - round_started() > ROUND_LIMIT_S:
                continue
            try:
                heartbeat(worker=worker_id, started_at=started_at)
            except Exception as exc:  # the database away: the round logs it too
                logger.warning("heartbeat failed", extra={"error": type(exc).__name__})
                connection.close()
    finally:
        connection.close()
