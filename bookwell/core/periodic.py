"""Periodic jobs, run by `bookwell worker` once per period however many workers run.

Each app registers its jobs when it is ready. A job runs in the worker that first records
its (job, period) row; the others find the row and skip. A job must be idempotent: if its
worker dies, the next period runs it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookwell.core.models import PeriodicRun

logger = logging.getLogger("bookwell.worker")


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: Callable[[dt.datetime], object]


_JOBS: dict[str, Job] = {}


def register(job: Job) -> None:
    _JOBS[job.name] = job


def jobs() -> list[Job]:
    return list(_JOBS.values())


def period_start(now: dt.datetime, every: dt.timedelta) -> dt.datetime:
    seconds = int(every.total_seconds())
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)


def run_due(*, worker: str, now: dt.datetime | None = None) -> list[str]:
    """Runs every job whose current period no worker has claimed yet; returns their names."""
    now = now or timezone.now()
    ran = []
    for job in jobs():
        start = period_start(now, job.every)
        try:
            with transaction.atomic():
                run = PeriodicRun.objects.create(job=job.name, period_start=start, worker=worker)
        except IntegrityError:
            continue  # another worker has this period
        try:
            job.run(now)
        except Exception as exc:
            # The job and the error's class only (a message could hold personal data); the
            # next period runs it again (jobs are idempotent).
            logger.error(
                "periodic job failed", extra={"job": job.name, "error": type(exc).__name__}
            )
            continue
        PeriodicRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
        ran.append(job.name)
    return ran
