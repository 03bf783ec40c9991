"""gunicorn settings `bookwell serve` adds: a worker that exits leaves prometheus-client's
multiprocess files behind; they are marked dead so its live gauges stop counting."""

from __future__ import annotations

from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
