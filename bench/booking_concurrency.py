"""Concurrent booking on PostgreSQL (issue 4).

16 threads book at once through `appointment_book` (each its own staff member and times, so
they run in parallel; the guarantees — staff row lock, exclusion constraint, row-level
security — all apply). The baseline, measured in the same run against the same database and
runtime role: 16 threads doing plain one-row INSERT transactions. The result is bookings per
second as a ratio to inserts per second.

Needs a local PostgreSQL reachable as the `postgres` superuser (BOOKWELL_PG_ADMIN_URL);
without one it says so and exits 0.

    python bench/booking_concurrency.py [--threads 16] [--per-thread 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("BOOKWELL_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HOST = os.environ.get("BOOKWELL_PG_HOST", "127.0.0.1:5432")
OWNER, APP = "bookwell_owner", "bookwell_app"


def prepare_database(name: str) -> bool:
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            for role, extra in ((OWNER, "CREATEDB"), (APP, "")):
                if not conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone():
                    conn.execute(f"CREATE ROLE {role} LOGIN {extra}")
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
    except psycopg.OperationalError:
        return False
    return True


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_threads(count: int, work) -> float:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def runner(i: int) -> None:
        from django.db import connections

        try:
            barrier.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--per-thread", type=int, default=60)
    args = parser.parse_args()
    name = f"bookwell_bench_{os.getpid()}"
    if not prepare_database(name):
        print("skipped: PostgreSQL is not reachable (set BOOKWELL_PG_ADMIN_URL)")
        return
    try:
        env = dict(os.environ)
        env.update(
            BOOKWELL_DATA_DIR=tempfile.mkdtemp(prefix="bookwell-bench-"),
            DATABASE_URL=f"postgresql://{APP}@{HOST}/{name}",
            DATABASE_OWNER_URL=f"postgresql://{OWNER}@{HOST}/{name}",
            BOOKWELL_DB_APP_ROLE=APP,
            BOOKWELL_DB_CONN_MAX_AGE="60",
        )
        subprocess.run([sys.executable, "-m", "bookwell", "migrate", "-v0"], env=env, check=True)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "bookwell.settings"
        import django

        django.setup()
        measure(args.threads, args.per_thread)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(name)


def measure(threads: int, per_thread: int) -> None:
    from django.db import connection, transaction

    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.core.context import clinic_context, platform_scope
    from bookwell.scheduling.models import Service, StaffMember
    from bookwell.tenancy.models import Clinic

    with platform_scope("benchmark set-up"):
        clinic = Clinic.objects.create(name="Bench", slug="bench", plan="standard")
    with clinic_context(clinic):
        service = Service.objects.create(clinic=clinic, name="Bench", duration_min=30)
        staff = [
            StaffMember.objects.create(clinic=clinic, display_name=f"S{i}") for i in range(threads)
        ]
        service.staff.set(staff, through_defaults={"clinic": clinic})
    with connection.cursor() as cursor:
        # The baseline table, owned by nobody special; the runtime role may write it.
        cursor.execute("SELECT 1")
    base = dt.datetime(2031, 1, 6, 8, 0, tzinfo=dt.UTC)

    def book(i: int) -> None:
        with clinic_context(clinic):
            for k in range(per_thread):
                with transaction.atomic():
                    appointment_book(
                        clinic=clinic,
                        request=BookingRequest(
                            service=service, staff=staff[i], start=base + dt.timedelta(hours=k)
                        ),
                    )

    # Contended: four threads per staff member ask for the same times at once; one wins each
    # time, the others get SlotTaken (the database's exclusion constraint is the referee).
    from bookwell.bookings.services import SlotTaken

    contested_staff = staff[: max(1, threads // 4)]
    outcomes = {"booked": 0, "taken": 0}
    lock = threading.Lock()

    def contend(i: int) -> None:
        member = contested_staff[i % len(contested_staff)]
        with clinic_context(clinic):
            for k in range(per_thread):
                try:
                    with transaction.atomic():
                        appointment_book(
                            clinic=clinic,
                            request=BookingRequest(
                                service=service,
                                staff=member,
                                start=base + dt.timedelta(days=30, hours=k),
                            ),
                        )
                    won = "booked"
                except SlotTaken:
                    won = "taken"
                with lock:
                    outcomes[won] += 1

    def insert(i: int) -> None:
        with connection.cursor() as cursor:
            for k in range(per_thread):
                with transaction.atomic():
                    cursor.execute(
                        "INSERT INTO bench_plain (thread, n, at) VALUES (%s, %s, now())", [i, k]
                    )

    admin = psycopg.connect(
        ADMIN_URL.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"], autocommit=True
    )
    admin.execute(
        "CREATE TABLE bench_plain (id bigserial primary key, thread int, n int, at timestamptz)"
    )
    admin.execute(f"GRANT INSERT, SELECT ON bench_plain TO {APP}")
    admin.execute(f"GRANT USAGE ON SEQUENCE bench_plain_id_seq TO {APP}")
    admin.close()

    total = threads * per_thread
    insert(0)  # warm up connections and caches
    book_seconds = run_threads(threads, book)
    contend_seconds = run_threads(threads, contend)
    insert_seconds = run_threads(threads, insert)
    bookings = total / book_seconds
    inserts = total / insert_seconds
    print(f"threads: {threads}, operations per thread: {per_thread}")
    print(f"bookings: {bookings:,.0f}/s ({total} in {book_seconds:.2f} s)")
    print(f"plain one-row INSERT transactions: {inserts:,.0f}/s (baseline)")
    print(f"ratio bookings/inserts: {bookings / inserts:.2f}")
    attempts = total / contend_seconds
    print(
        f"contended ({threads // len(contested_staff)} threads per staff member, same times): "
        f"{attempts:,.0f} attempts/s, {outcomes['booked']} booked, {outcomes['taken']} refused; "
        f"ratio attempts/inserts: {attempts / inserts:.2f}"
    )
    expected = len(contested_staff) * per_thread
    assert outcomes["booked"] == expected, f"{outcomes['booked']} booked, {expected} expected"


if __name__ == "__main__":
    main()
