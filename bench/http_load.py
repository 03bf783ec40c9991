"""Requests per second under concurrent load, against `bookwell serve` (issue 5).

    python bench/http_load.py [--seconds 5] [--concurrency 8] [--workers 2]

Migrates a throwaway SQLite database (or the one DATABASE_URL names), seeds the demo clinic,
starts `bookwell serve` (gunicorn, as in production) and drives it with a Python load
generator (threads, one connection per request as gunicorn's sync workers close them).
Each page's rate is printed as a ratio to a bare Django JSON view (/healthz) served the same
way in the same run. Goal: the calendar day view (<= 100 appointments) at >= 25% of bare.
The bench books its day up to 100 appointments across 20 staff members first. One front-desk
session then requests the same day over and over: after the first draw the grid comes from
the per-process cache that the clinic's calendar stamp keys (bookings.grid_cache), and so
does the whole page around it (grid_cache.cached_page); the htmx line is the grid's own
refresh (every 30 s and on focus). For reference, the day view is then measured once more
with the caches off, as every draw after a change to the calendar is.
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
    """(requests per second, non-200 answers). A path starting with "htmx:" is requested as
    htmx requests it (the grid's own refresh every 30 s)."""
    done = [0] * concurrency
    bad = [0] * concurrency
    stop = time.perf_counter() + seconds
    headers = {"Cookie": cookie} if cookie else {}
    if path.startswith("htmx:"):
        path = path.removeprefix("htmx:")
        headers["HX-Request"] = "true"

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


BUSY_DAY = 100  # the goal is stated for a day view of up to 100 appointments
BUSY_STAFF = 20


def _fill_day(clinic: Any, day: dt.date, zone: Any, *, target: int) -> None:
    """Grows the demo to 20 staff members and books `day` up to `target` appointments,
    through the booking service (the same rows a real front desk would create)."""
    from bookwell.bookings.models import Appointment
    from bookwell.bookings.services import BookingRequest, SlotTaken, appointment_book
    from bookwell.clients.models import Client
    from bookwell.core.errors import Conflict
    from bookwell.scheduling.models import Location, Service, StaffMember, WorkingHours

    location = Location.objects.order_by("pk").first()
    services = list(Service.objects.filter(capacity=1, archived=False).order_by("pk"))
    for n in range(StaffMember.objects.count(), BUSY_STAFF):
        member = StaffMember.objects.create(clinic=clinic, display_name=f"Practitioner {n + 1}")
        for service in services:
            service.staff.add(member, through_defaults={"clinic": clinic})
        WorkingHours.objects.create(
            clinic=clinic,
            staff=member,
            location=location,
            weekday=day.weekday(),
            start_min=8 * 60,
            end_min=18 * 60,
        )
    staff = list(StaffMember.objects.order_by("pk"))
    clients = list(Client.objects.order_by("pk")[:200])
    lo = dt.datetime.combine(day, dt.time(), zone)
    booked = Appointment.objects.filter(start__gte=lo, start__lt=lo + dt.timedelta(days=1)).count()
    attempt = 0
    while booked < target and attempt < target * 10:
        member = staff[attempt % len(staff)]
        slot = attempt // len(staff)
        service = services[attempt % len(services)]
        start = lo + dt.timedelta(hours=8, minutes=30 * (slot % 20))
        attempt += 1
        try:
            appointment_book(
                clinic=clinic,
                request=BookingRequest(
                    service=service,
                    staff=member,
                    start=start,
                    client=clients[attempt % len(clients)],
                ),
            )
        except (SlotTaken, Conflict):
            continue
        booked += 1


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
        _fill_day(clinic, day, zone, target=BUSY_DAY)
        count = Appointment.objects.filter(
            start__gte=start, start__lt=start + dt.timedelta(days=1)
        ).count()
    user = User.objects.get(email="desk@demo.bookwell.test")
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[AUTH_AT_KEY] = int(timezone.now().timestamp())
    store.create()
    query = f"?staff=any&month={day:%Y-%m}&day={day:%Y-%m-%d}"
    paths = {"public availability (month + day)": f"/book/{DEMO_SLUG}/s/{service.pk}/{query}"}
    # For reference: the overview page, whose charts aggregate 30 days of appointments.
    paths["staff overview with charts (reference)"] = f"/c/{DEMO_SLUG}/"
    try:
        calendar = reverse("bookings:calendar", kwargs={"clinic_slug": DEMO_SLUG})
        paths[f"calendar day view ({count} appointments)"] = f"{calendar}?date={day:%Y-%m-%d}"
        paths["  its grid's refresh (htmx, every 30 s)"] = f"htmx:{calendar}?date={day:%Y-%m-%d}"
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
        # For reference: every draw from the database, as after each change to the calendar
        # (a second server with the calendar caches off, against its own bare view).
        calendar = [p for k, p in prepared["paths"].items() if k.startswith("calendar")]
        if calendar:
            port = _free_port()
            server = subprocess.Popen(
                [str(BIN / "bookwell"), "serve", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(args.workers)],
                env={**env, "BOOKWELL_CALENDAR_CACHE_SECONDS": "0"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                _wait_up(port)
                _load(port, calendar[0], prepared["cookie"], 0.5, args.concurrency)
                base, _ = _load(port, "/healthz", "", args.seconds, args.concurrency)
                rate, bad = _load(
                    port, calendar[0], prepared["cookie"], args.seconds, args.concurrency
                )
                note = f"   ({bad} non-200 answers!)" if bad else ""
                label = "  the same, drawn uncached (reference)"
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
