"""REST API requests per second under concurrent load, against `bookwell serve` (issue 7).

    DATABASE_URL=postgresql://app@host/db DATABASE_OWNER_URL=postgresql://owner@host/db \\
        python bench/api_load.py [--seconds 3] [--rounds 3] [--concurrency 8] [--workers 2]

Migrates the database DATABASE_URL names (a throwaway SQLite one when unset), seeds a clinic
with 20 staff members free around the clock, starts `bookwell serve` with the baselines of
bench/_api_site.py, and measures:

- appointment creation (POST /api/v1/appointments, each request a distinct free time with a
  named staff member, with its availability check, plan allowances, usage counts and webhook
  outbox) against a bare view doing one INSERT — goal >= 40%;
- appointment listing (GET /api/v1/appointments?limit=100, 100 rows) against a bare view
  returning 100 rows of a plain table as JSON — goal >= 25%.

Each baseline and its API measure alternate for `--rounds` rounds; the ratio reported is the
median of the rounds' ratios (each round's is printed too).

And once, for reference (no goal): bookings that also name a client (its confirmation goes to
the outbox) and send an Idempotency-Key, the fuller request of a practice system, against
the bare INSERT measured just before them. They take the general path: the client is read
first and the key looked up, so neither of the plain booking's savings applies
(bookings.api.appointment_create).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from http_load import _free_port, _wait_up  # noqa: E402

STAFF = 20
CLIENTS = 50


def _prepare_in_django() -> None:
    """(In a child process.) The clinic, its staff and service, the plain table, a token."""
    import django

    django.setup()
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.utils import timezone

    from bookwell.accounts.models import User
    from bookwell.clients.services import ClientInput, client_create
    from bookwell.core.context import clinic_context
    from bookwell.integrations.scopes import Scope
    from bookwell.integrations.services import api_token_create
    from bookwell.scheduling.models import Location, Service, StaffMember, WorkingHours
    from bookwell.tenancy.services import clinic_create

    owner = User.objects.create_user(
        email="api-bench@example.test", password=None, full_name="Bench Owner"
    )
    clinic = clinic_create(
        owner=owner, name="API Bench Clinic", time_zone="Europe/Berlin", country="DE"
    )
    # A paying clinic's plan: its allowances are counted (P9), and the run's bookings fit
    # (bench/_api_site.py).
    clinic.plan = "bench"
    clinic.save(update_fields=["plan"])
    zone = ZoneInfo(clinic.time_zone)
    with clinic_context(clinic):
        location = Location.objects.create(clinic=clinic, name="Main", time_zone=clinic.time_zone)
        service = Service.objects.create(
            clinic=clinic,
            name="Short visit",
            duration_min=10,
            slot_interval_min=10,
            min_notice_min=0,
            max_advance_days=365,
        )
        staff = []
        for n in range(STAFF):
            member = StaffMember.objects.create(clinic=clinic, display_name=f"Practitioner {n}")
            service.staff.add(member, through_defaults={"clinic": clinic})
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    clinic=clinic,
                    staff=member,
                    location=location,
                    weekday=d,
                    start_min=0,
                    end_min=1440,
                )
                for d in range(7)
            )
            staff.append(member.pk)
        _token, secret = api_token_create(
            clinic=clinic, name="Bench", scopes=[s.value for s in Scope]
        )
        clients = [
            str(
                client_create(
                    clinic=clinic,
                    data=ClientInput(full_name=f"Bench Client {n}", email=f"c{n}@example.test"),
                ).pk
            )
            for n in range(CLIENTS)
        ]
    first_day = timezone.now().astimezone(zone).date() + dt.timedelta(days=2)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_plain (id bigserial PRIMARY KEY, "
                "label text NOT NULL, created_at timestamptz NOT NULL)"
            )
        else:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_plain (id integer PRIMARY KEY AUTOINCREMENT, "
                "label text NOT NULL, created_at datetime NOT NULL)"
            )
        app_role = os.environ.get("BOOKWELL_DB_APP_ROLE")
        if connection.vendor == "postgresql" and app_role:
            cursor.execute(f"GRANT SELECT, INSERT ON bench_plain TO {app_role}")
            cursor.execute(f"GRANT USAGE ON SEQUENCE bench_plain_id_seq TO {app_role}")
        for _ in range(100):
            cursor.execute(
                "INSERT INTO bench_plain (label, created_at) VALUES (%s, %s)",
                ["row", timezone.now()],
            )
    print(
        json.dumps(
            {
                "token": secret,
                "service": service.pk,
                "staff": staff,
                "clients": clients,
                "first_day": first_day.isoformat(),
                "zone": clinic.time_zone,
            }
        )
    )


def _slots(prepared: dict[str, Any]) -> itertools.count[Any] | Any:
    """Distinct free times, staff by staff within each time (concurrent bookings rarely wait
    on one staff member's lock)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(prepared["zone"])
    day = dt.date.fromisoformat(prepared["first_day"])

    def gen() -> Any:
        for offset in itertools.count():
            moment = dt.datetime.combine(day, dt.time(), zone) + dt.timedelta(minutes=10 * offset)
            if moment.astimezone(zone).hour < 1:  # keep clear of the DST hour and midnight
                continue
            for staff in prepared["staff"]:
                yield staff, moment.astimezone(dt.UTC).isoformat()

    return gen()


def _load(
    port: int,
    make: Any,
    seconds: float,
    concurrency: int,
    ok: int,
) -> tuple[float, int]:
    """(requests per second, answers other than `ok`). `make()` gives (method, path, body,
    headers) for each request."""
    done = [0] * concurrency
    bad = [0] * concurrency
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            method, path, body, headers = make()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            done[i] += 1
            if response.status != ok:
                bad[i] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - began), sum(bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _prepare_in_django()
        return
    with tempfile.TemporaryDirectory(prefix="bookwell-api-bench-") as data:
        env = dict(os.environ)
        env.update(
            BOOKWELL_DATA_DIR=data,
            DJANGO_SETTINGS_MODULE="_api_site",
            BOOKWELL_API_RATE_PER_MINUTE="100000000",
            PYTHONPATH=f"{ROOT}{os.pathsep}{HERE}",
        )
        env.setdefault("DATABASE_URL", "")
        subprocess.run([str(BIN / "bookwell"), "migrate", "-v0"], env=env, check=True)
        owner_env = dict(env, BOOKWELL_DB_AS_OWNER="1")  # the plain table is made by the owner
        out = subprocess.run(
            [str(BIN / "python"), __file__, "--prepare"],
            env=owner_env,
            check=True,
            capture_output=True,
            text=True,
        )
        prepared = json.loads(out.stdout.strip().splitlines()[-1])
        port = _free_port()
        server = subprocess.Popen(
            [str(BIN / "bookwell"), "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {prepared['token']}"}
        json_headers = {**auth, "Content-Type": "application/json"}
        slots = _slots(prepared)
        lock = threading.Lock()

        def book() -> tuple[str, str, str, dict[str, str]]:
            with lock:
                staff, start = next(slots)
            body = {"service": prepared["service"], "staff": staff, "start": start}
            return "POST", "/api/v1/appointments", json.dumps(body), json_headers

        keys = itertools.count()
        clients = itertools.cycle(prepared["clients"])

        def book_full() -> tuple[str, str, str, dict[str, str]]:
            with lock:
                staff, start = next(slots)
                client, key = next(clients), f"bench-{next(keys)}"
            body = {"service": prepared["service"], "staff": staff, "start": start}
            body["client"] = client
            return (
                "POST",
                "/api/v1/appointments",
                json.dumps(body),
                {**json_headers, "Idempotency-Key": key},
            )

        def insert() -> tuple[str, str, str, dict[str, str]]:
            return "POST", "/bench/insert", json.dumps({"label": "row"}), json_headers

        def listing() -> tuple[str, str, None, dict[str, str]]:
            return "GET", "/api/v1/appointments?limit=100", None, auth

        def rows() -> tuple[str, str, None, dict[str, str]]:
            return "GET", "/bench/rows", None, auth

        try:
            _wait_up(port)
            for make, ok in (
                (insert, 201),
                (rows, 200),
                (book, 201),
                (book_full, 201),
                (listing, 200),
            ):
                _load(port, make, 0.5, args.concurrency, ok)  # warm up every worker
            # Each baseline and its API measure alternate, round after round: the machine's
            # drift (other work, CPU frequency) moves both alike, and the median ratio of the
            # rounds is reported.
            s, c = args.seconds, args.concurrency
            rounds: list[tuple[float, float, int, float, float, int]] = []
            for _ in range(args.rounds):
                _analyze(env)
                base_insert, _ = _load(port, insert, s, c, 201)
                created, bad_created = _load(port, book, s, c, 201)
                base_rows, _ = _load(port, rows, s, c, 200)
                listed, bad_listed = _load(port, listing, s, c, 200)
                rounds.append((base_insert, created, bad_created, base_rows, listed, bad_listed))
            _analyze(env)
            full_base, _ = _load(port, insert, s, c, 201)
            full, bad_full = _load(port, book_full, s, c, 201)
        finally:
            server.terminate()
            server.wait(timeout=10)
    vendor = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    booking = statistics.median(r[1] / r[0] for r in rounds)
    listing_ratio = statistics.median(r[4] / r[3] for r in rounds)
    bad_created = sum(r[2] for r in rounds)
    bad_listed = sum(r[5] for r in rounds)
    print(f"{'bare view, one INSERT':45} {_rates(r[0] for r in rounds)} req/s   1.00x")
    note = f"   ({bad_created} not 201!)" if bad_created else ""
    print(
        f"{'API: book a distinct free time':45} {_rates(r[1] for r in rounds)} req/s   "
        f"{booking:.2f}x of bare (goal 0.40){note}"
    )
    note = f"   ({bad_full} not 201!)" if bad_full else ""
    print(
        f"{'  reference: with a client and a key':45} {full:.0f} req/s   "
        f"{full / full_base:.2f}x of bare ({full_base:.0f} req/s just before){note}"
    )
    print(f"{'bare view, 100 rows as JSON':45} {_rates(r[3] for r in rounds)} req/s   1.00x")
    note = f"   ({bad_listed} not 200!)" if bad_listed else ""
    print(
        f"{'API: list 100 appointments':45} {_rates(r[4] for r in rounds)} req/s   "
        f"{listing_ratio:.2f}x of bare (goal 0.25){note}"
    )
    print(
        f"(median of {len(rounds)} alternating rounds: booking "
        + ", ".join(f"{r[1] / r[0]:.2f}" for r in rounds)
        + "; listing "
        + ", ".join(f"{r[4] / r[3]:.2f}" for r in rounds)
        + f"; {vendor}; {args.workers} gunicorn workers, {args.concurrency} clients, "
        f"{args.seconds:.0f} s each)"
    )


def _analyze(env: dict[str, str]) -> None:
    """Brings PostgreSQL's statistics up to date, as autovacuum does in a running system (it
    analyzes a table after a tenth of its rows changed, within a minute). Each round adds
    thousands of bookings to a table that started empty; planned on the empty table's
    statistics, the listing sorted every booking instead of reading 100 in index order,
    which measured the bench's first minute, not the product."""
    url = env.get("DATABASE_OWNER_URL") or env.get("DATABASE_URL") or ""
    if not url.startswith("postgres"):
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def _rates(values: Any) -> str:
    return "/".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main()
