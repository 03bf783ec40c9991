"""Notifications throughput and the reminder scan (issue 6).

    python bench/notifications.py [--emails 300] [--appointments 100000]

1. Emails per second delivered by `bookwell worker` (one, then two processes) to a local SMTP
   sink (aiosmtpd), as a ratio to raw smtplib sending the same number of messages to the same
   sink from one process in the same run (the transport alone).
2. The reminder scan over 100,000 future appointments: its time and number of queries, as a
   ratio to one plain read of the appointments in the scan's window in the same run.

Runs on a throwaway SQLite database, or the PostgreSQL database DATABASE_URL names (give it a
fresh one: the bench writes rows).
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def _django() -> None:
    import django

    django.setup()


def _prepare_emails(count: int) -> None:
    """(Child process.) A clinic with `count` booked appointments, each with a confirmation
    due; prints nothing."""
    _django()
    import datetime as dt

    from django.utils import timezone

    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.clients.services import ClientInput, client_create
    from bookwell.core.context import clinic_context
    from bookwell.scheduling.models import Location, Service, StaffMember
    from bookwell.tenancy.models import Clinic

    clinic = Clinic.objects.create(
        name="Bench Clinic",
        slug="bench-mail",
        time_zone="Europe/Berlin",
        country="DE",
        plan="standard",
    )
    with clinic_context(clinic):
        Location.objects.create(clinic=clinic, name="Main", time_zone="Europe/Berlin")
        staff = [
            StaffMember.objects.create(clinic=clinic, display_name=f"Staff {n}") for n in range(10)
        ]
        service = Service.objects.create(clinic=clinic, name="Massage", duration_min=30)
        service.staff.set(staff, through_defaults={"clinic": clinic})
        first = timezone.now() + dt.timedelta(days=3)
        for n in range(count):
            client = client_create(
                clinic=clinic,
                data=ClientInput(full_name=f"Client {n}", email=f"client{n}@example.test"),
            )
            appointment_book(
                clinic=clinic,
                request=BookingRequest(
                    service=service,
                    staff=staff[n % len(staff)],
                    start=first + dt.timedelta(minutes=30 * (n // len(staff))),
                    client=client,
                ),
            )


def _reset_and_count(action: str) -> None:
    """(Child process.) reset: every delivery due again; count: how many are not sent."""
    _django()
    from django.utils import timezone

    from bookwell.core.context import platform_scope
    from bookwell.notifications.models import Delivery, DeliveryStatus

    with platform_scope("bench"):
        if action == "reset":
            Delivery.objects.update(
                status=DeliveryStatus.PENDING,
                attempts=0,
                lease_until=None,
                next_attempt_at=timezone.now(),
            )
        print(Delivery.objects.exclude(status=DeliveryStatus.SENT).count())


def _scan(appointments: int) -> None:
    """(Child process.) `appointments` future appointments over 60 days; times the scan."""
    _django()
    import datetime as dt
    import uuid

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bookwell.bookings.models import Appointment, Status
    from bookwell.clients.services import ClientInput, client_create
    from bookwell.core.context import clinic_context, platform_scope
    from bookwell.notifications.models import Delivery, Kind, ReminderRule
    from bookwell.notifications.services import MISSED_LOOKBACK, SCAN_HORIZON, reminders_scan
    from bookwell.scheduling.models import Service, StaffMember
    from bookwell.tenancy.models import Clinic

    clinic = Clinic.objects.create(
        name="Scan Clinic",
        slug="bench-scan",
        time_zone="Europe/Berlin",
        country="DE",
        plan="standard",
    )
    now = timezone.now()
    with clinic_context(clinic):
        ReminderRule.objects.create(clinic=clinic, minutes_before=24 * 60)
        ReminderRule.objects.create(clinic=clinic, minutes_before=120)
        staff_count = 60
        staff = [
            StaffMember.objects.create(clinic=clinic, display_name=f"S{n}")
            for n in range(staff_count)
        ]
        service = Service.objects.create(clinic=clinic, name="Visit", duration_min=30)
        clients = [
            client_create(clinic=clinic, data=ClientInput(full_name=f"C{n}", email=f"c{n}@x.test"))
            for n in range(200)
        ]
        rows = []
        per_staff = appointments // staff_count
        step = dt.timedelta(days=60) / per_staff
        for s_index, member in enumerate(staff):
            for k in range(per_staff):
                start = now + dt.timedelta(minutes=5) + step * k
                pk = uuid.uuid4()
                rows.append(
                    Appointment(
                        id=pk,
                        clinic=clinic,
                        service=service,
                        staff=member,
                        client=clients[(s_index + k) % len(clients)],
                        start=start,
                        end=start + dt.timedelta(minutes=30),
                        block_start=start,
                        block_end=start + dt.timedelta(minutes=30),
                        status=Status.CONFIRMED,
                        overlap_key=str(pk),
                    )
                )
        Appointment.objects.bulk_create(rows, batch_size=2000)
        # Booked weeks ago, as a clinic's appointments are (a booking made after a reminder's
        # time gets no reminder).
        Appointment.objects.update(created_at=now - dt.timedelta(days=30))
    total = len(rows)

    window_end = now + dt.timedelta(days=1, minutes=30) + SCAN_HORIZON + dt.timedelta(days=1)
    best_read = best_scan = float("inf")
    queries = created = 0
    for attempt in range(3):
        with clinic_context(clinic):
            began = time.perf_counter()
            window = Appointment.objects.filter(
                start__gt=now - MISSED_LOOKBACK, start__lte=window_end
            )
            list(window.values_list("pk", "clinic_id", "start", "sequence", "created_at"))
            best_read = min(best_read, time.perf_counter() - began)
        with CaptureQueriesContext(connection) as ctx:
            began = time.perf_counter()
            made = reminders_scan(now=now)
            best_scan = min(best_scan, time.perf_counter() - began)
        if attempt == 0:
            queries, created = len(ctx.captured_queries), made
        with platform_scope("bench: the next scan records them afresh"):
            Delivery.objects.filter(kind=Kind.REMINDER).delete()
    print(
        json.dumps(
            {
                "appointments": total,
                "scan_ms": best_scan * 1000,
                "read_ms": best_read * 1000,
                "queries": queries,
                "created": created,
            }
        )
    )


def _child(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "python"), __file__, *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _raw_smtp(port: int, count: int) -> float:
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            message = EmailMessage()
            message["From"] = "bench@example.test"
            message["To"] = f"client{n}@example.test"
            message["Subject"] = "Your appointment on 1 April at 10:00"
            message.set_content("Hello,\n\nyour appointment is booked.\n" * 8)
            smtp.send_message(message)
    return count / (time.perf_counter() - began)


def _workers(env: dict[str, str], sink: Any, port: int, processes: int, count: int) -> float:
    _child(env, "--reset")
    sink.messages.clear()
    worker_env = dict(
        env,
        BOOKWELL_EMAIL_BACKEND="smtp",
        BOOKWELL_EMAIL_HOST="127.0.0.1",
        BOOKWELL_EMAIL_PORT=str(port),
        BOOKWELL_EMAIL_TLS="false",
    )
    began = time.perf_counter()
    workers = [
        subprocess.Popen(
            [str(BIN / "bookwell"), "worker", "--interval", "0.1", "--batch", "25"],
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    deadline = began + 300
    try:
        while len({str(m["Message-ID"]) for m in sink.messages}) < count:
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a worker stopped before sending everything")
            if time.perf_counter() > deadline:
                raise SystemExit("the workers did not send everything within 5 minutes")
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        duplicates = len(sink.messages) - len({str(m["Message-ID"]) for m in sink.messages})
        if duplicates:
            print(f"  ({duplicates} duplicate emails with {processes} workers)")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--prepare-emails", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reset", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scan", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_emails is not None:
        return _prepare_emails(args.prepare_emails)
    if args.reset or args.count:
        return _reset_and_count("reset" if args.reset else "count")
    if args.scan is not None:
        return _scan(args.scan)

    from tests.notifications.smtp_sink import smtp_sink

    with tempfile.TemporaryDirectory(prefix="bookwell-bench-") as data:
        env = dict(os.environ)
        env.update(
            BOOKWELL_DATA_DIR=data,
            DJANGO_SETTINGS_MODULE="bookwell.settings",
            PYTHONPATH=str(ROOT),
            BOOKWELL_LOG_LEVEL="WARNING",
        )
        env.setdefault("DATABASE_URL", "")
        subprocess.run([str(BIN / "bookwell"), "migrate", "-v0"], env=env, check=True)
        database = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
        _child(env, "--prepare-emails", str(args.emails))
        with smtp_sink() as (sink, port):
            raw = _raw_smtp(port, args.emails)
            print(f"raw smtplib to the sink (baseline)      {raw:8.1f} emails/s   1.00x")
            for processes in (1, 2):
                rate = _workers(env, sink, port, processes, args.emails)
                print(
                    f"bookwell worker x{processes} ({database})        {rate:8.1f} emails/s"
                    f"   {rate / raw:.2f}x of raw"
                )
        scan = json.loads(_child(env, "--scan", str(args.appointments)))
        print(
            f"reminder scan over {scan['appointments']:,} future appointments: "
            f"{scan['scan_ms']:.1f} ms, {scan['queries']} queries, "
            f"{scan['created']} reminders recorded; "
            f"{scan['scan_ms'] / scan['read_ms']:.2f}x of one plain read of its window "
            f"({scan['read_ms']:.1f} ms)"
        )


if __name__ == "__main__":
    main()
