from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve Bookwell with gunicorn (sync workers; static files through WhiteNoise)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=os.environ.get("BOOKWELL_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=settings.GUNICORN_WORKERS)

    def handle(self, *args: Any, bind: str, workers: int, **options: Any) -> None:
        from bookwell.tenancy.checks import check_runtime_role
        from bookwell.tenancy.keyring import KeyringError, verify_master_keys

        try:
            verify_master_keys()  # a wrong master key stops start-up, naming its id only
        except KeyringError as exc:
            raise CommandError(f"refusing to start: {exc}") from exc
        if settings.PRODUCTION:
            problems = [
                str(m.msg) for m in check_runtime_role(databases=["default"]) if m.is_serious()
            ]
            if problems:
                raise CommandError("refusing to start: " + " ".join(problems))
            call_command("collectstatic", interactive=False, verbosity=0)
        _metrics_dir(bind)
        self.stdout.write(f"Bookwell on http://{bind} ({workers} workers)")
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "bookwell.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--config",
            "python:bookwell.core.gunicorn_conf",
            # Its control socket is one path per user: two servers on a host would share it.
            "--no-control-socket",
            "--access-logfile",
            "-",
            # Paths with single-use tokens are masked (P7).
            "--logger-class",
            "bookwell.core.gunicorn_logging.ScrubbingLogger",
            # The access log line carries no query string and no client address (P7).
            "--access-logformat",
            '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        ]
        sys.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606


def _metrics_dir(bind: str) -> None:
    """prometheus-client's multiprocess directory for this server's gunicorn workers: one per
    server (two servers on one host keep their own), emptied at start (what an earlier run
    counted is not this run's)."""
    import re
    import shutil
    from pathlib import Path

    base = Path(settings.METRICS_DIR)
    path = base / re.sub(r"[^A-Za-z0-9]+", "-", bind).strip("-")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
