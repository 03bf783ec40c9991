"""Background tasks that retry with backoff and fail without quoting data.

django-tasks-db runs a task once; a task that raises is marked failed with its traceback.
`guarded` gives our tasks retries (1, 2, 4, 8 minutes apart) by enqueueing themselves again,
and on the last attempt fails with only the error's class name: an exception message might
quote personal data, and the task table keeps what it is given. Failed tasks are listed on
the operator's page, where they can be run again. A task a dead worker left running is
marked failed after a while (periodic job), so it shows up there too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger("bookwell.tasks")

MAX_ATTEMPTS = 5
LOST_AFTER = dt.timedelta(minutes=30)


class TaskFailed(Exception):
    """What a failed task leaves behind: the class of what went wrong, never its message."""


def backoff(attempt: int) -> dt.timedelta:
    return dt.timedelta(minutes=2 ** max(attempt - 1, 0))


def guarded(task: Any, run: Callable[[], Any], *, args: tuple[Any, ...], attempt: int) -> Any:
    try:
        return run()
    except Exception as exc:
        name = type(exc).__name__
        if attempt < MAX_ATTEMPTS:
            logger.warning(
                "task failed; it will run again",
                extra={"task": task.name, "error": name, "attempt": attempt},
            )
            task.using(run_after=timezone.now() + backoff(attempt)).enqueue(
                *args, attempt=attempt + 1
            )
            return f"retry:{name}"
        raise TaskFailed(name) from None


def mark_lost_tasks(now: dt.datetime) -> int:
    """Tasks still 'running' long after they started belong to a worker that died."""
    lost = 0
    for result in DBTaskResult.objects.filter(status="RUNNING", started_at__lt=now - LOST_AFTER):
        result.set_failed(TaskFailed("WorkerLost"))
        lost += 1
    return lost


def task_retry(*, result: DBTaskResult) -> None:
    """Runs a failed task again (a fresh first attempt); the failed record goes."""
    from django.tasks import task_backends
    from django.utils.module_loading import import_string

    task = import_string(result.task_path)
    kwargs = dict(result.args_kwargs.get("kwargs", {}))
    kwargs.pop("attempt", None)
    if result.backend_name in task_backends:
        task = task.using(backend=result.backend_name)
    task.enqueue(*result.args_kwargs.get("args", []), **kwargs)
    result.delete()
