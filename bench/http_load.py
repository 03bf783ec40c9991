"""Requests per second under concurrent load, against `bookwell serve` (issue 5).

    python bench/http_load.py [--seconds 5] [--concurrency 8] [--workers 2]

Migrates a throwaway SQLite database (or the one DATABASE_URL names), seeds the demo clinic,
starts `bookwell serve` (gunicorn, as in production) and drives it with a Python load
generator (threads, one connection per request as gunicorn's sync workers close them).
Each page's rate is printed as a ratio to a bare Django JSON view (/healthz) served the same
way in the same run. Goals: the calendar day view (<= 100 appointments) at >= 25% of bare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


def _load(port: int, path: str, cookie: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """(requests per second, non-200 answers)."""
    done = [0] * concurrency
    bad = [0] * concurrency
    stop = time.perf_counter() + seconds
    headers = {"Cookie": cookie} if cookie else {}

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            done[i] += 1
            if response.status != 200:
                bad[i] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - began), sum(bad)


def _prepare_in_django() -> None:
    """(Run in a child process with the bench's settings.) Seeds the demo; prints the paths
    to load and a front-desk session cookie as JSON."""
    import django

    django.setup()
    from importlib import import_module
    from zoneinfo import ZoneInfo

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from bookwell.accounts.models import User
    from bookwell.accounts.session import AUTH_AT_KEY
    from bookwell.bookings.models import Appointment
    from bookwell.core.context import clinic_context
    from bookwell.core.demo import DEMO_SLUG, seed_demo
    from bookwell.scheduling.models import Service

    clinic = seed_demo()
    with clinic_context(clinic):
        service = (
            Service.objects.filter(online_bookable=True, archived=False, capacity=1)
            .order_by("pk")
            .first()
        )
        assert service is not None
        zone = ZoneInfo(clinic.time_zone)
        day = timezone.now().astimezone(zone).date() + dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        start = dt.datetime.combine(day, dt.time(), zone)
        count = Appointment.objects.filter(
            start__gte=start, start__lt=start + dt.timedelta(days=1)
        ).count()
    user = User.objects.get(email="desk@demo.bookwell.test")
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[AUTH_AT_KEY] = int(timezone.now().timestamp())
    store.create()
    query = f"?staff=any&month={day:%Y-%m}&day={day:%Y-%m-%d}"
    paths = {"public availability (month + day)": f"/book/{DEMO_SLUG}/s/{service.pk}/{query}"}
    # The lightest signed-in staff page: what session, user and clinic checks cost alone.
    paths["signed-in staff overview (reference)"] = f"/c/{DEMO_SLUG}/"
    try:
        calendar = reverse("bookings:calendar", kwargs={"clinic_slug": DEMO_SLUG})
        paths[f"calendar day view ({count} appointments)"] = f"{calendar}?date={day:%Y-%m-%d}"
    except NoReverseMatch:
        pass
    cookie = f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
    print(json.dumps({"paths": paths, "cookie": cookie}))


def _prepare(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / "python"), __file__, "--prepare"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _prepare_in_django()
        return

    with tempfile.TemporaryDirectory(prefix="bookwell-bench-") as data:
        env = dict(os.environ)
        env.update(
            BOOKWELL_DATA_DIR=data,
            DJANGO_SETTINGS_MODULE="bookwell.settings",
            BOOKWELL_BOOK_PAGE_LIMIT_PER_MINUTE="100000000",  # the load comes from one address
            PYTHONPATH=str(ROOT),
        )
        env.setdefault("DATABASE_URL", "")
        subprocess.run([str(BIN / "bookwell"), "migrate", "-v0"], env=env, check=True)
        prepared = _prepare(env)
        port = _free_port()
        server = subprocess.Popen(
            [
                str(BIN / "bookwell"),
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_up(port)
            for path in ["/healthz", *prepared["paths"].values()]:  # warm up every worker
                _load(port, path, prepared["cookie"], 0.5, args.concurrency)
            base, _ = _load(port, "/healthz", "", args.seconds, args.concurrency)
            print(f"{'bare JSON view (/healthz)':45} {base:8.1f} req/s   1.00x")
            for label, path in prepared["paths"].items():
                rate, bad = _load(port, path, prepared["cookie"], args.seconds, args.concurrency)
                note = f"   ({bad} non-200 answers!)" if bad else ""
                print(f"{label:45} {rate:8.1f} req/s   {rate / base:.2f}x of bare{note}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"({args.workers} gunicorn workers, {args.concurrency} concurrent clients, "
        f"{args.seconds:.0f} s each)"
    )


if __name__ == "__main__":
    main()
