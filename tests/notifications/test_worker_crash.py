"""A real `bookwell worker` killed with SIGKILL in the middle of a batch: after a restart (two
workers side by side) every due message, confirmations and the reminders the worker's own
scan recorded, has gone out, and at most one went out twice (the one in flight)."""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from bookwell.bookings.models import Appointment
from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications.models import Delivery, DeliveryStatus, Kind, ReminderRule
from tests.bookings.factories import schedule
from tests.notifications.smtp_sink import smtp_sink

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 12
REMINDERS = 4


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgresql://{db['USER']}@{host}/{db['NAME']}"


def _worker(port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        BOOKWELL_EMAIL_BACKEND="smtp",
        BOOKWELL_EMAIL_HOST="127.0.0.1",
        BOOKWELL_EMAIL_PORT=str(port),
        BOOKWELL_EMAIL_TLS="false",
        BOOKWELL_NOTIFY_LEASE_SECONDS="2",  # a dead worker's message is retaken quickly
    )
    env.pop("DATABASE_OWNER_URL", None)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "bookwell"), "worker", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _unsent() -> int:
    with platform_scope("test: count unsent deliveries"):
        return Delivery.objects.exclude(status=DeliveryStatus.SENT).count()


def test_a_killed_worker_loses_nothing_and_duplicates_at_most_one(clinic_a):
    setup = schedule(clinic_a)
    first = timezone.now() + dt.timedelta(days=10)
    with clinic_context(clinic_a):
        for n in range(MESSAGES):
            client = client_create(
                clinic=clinic_a,
                data=ClientInput(full_name=f"Client {n}", email=f"c{n}@example.test"),
            )
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service,
                    staff=setup.staff,
                    start=first + dt.timedelta(hours=n),
                    client=client,
                ),
            )
        # Appointments booked last week, starting in just under a day: their day-before
        # reminders are due now, for the worker's periodic scan to record and send.
        soon = timezone.now() + dt.timedelta(days=1) - dt.timedelta(minutes=5)
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=24 * 60)
        for n in range(REMINDERS):
            client = client_create(
                clinic=clinic_a,
                data=ClientInput(full_name=f"Reminded {n}", email=f"r{n}@example.test"),
            )
            appointment = appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service,
                    staff=(setup.staff, setup.other_staff)[n % 2],
                    start=soon - dt.timedelta(minutes=45 * (n // 2)),  # due minutes ago
                    client=client,
                ),
                notify=False,
            )
            Appointment.objects.filter(pk=appointment.pk).update(
                created_at=timezone.now() - dt.timedelta(days=7)
            )
    assert _unsent() == MESSAGES

    with smtp_sink(delay=0.25) as (sink, port):  # a slow server: the kill lands mid-batch
        worker = _worker(port)
        try:
            assert _wait(lambda: len(sink.messages) >= 3, timeout=60), "the worker never sent"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        sent_before_restart = len(sink.messages)
        assert sent_before_restart < MESSAGES, "the kill came too late to test anything"

        workers = [_worker(port), _worker(port)]  # two, side by side, after the restart
        try:
            assert _wait(lambda: _unsent() == 0, timeout=90), f"{_unsent()} never sent"
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=20)

    ids = collections.Counter(str(m["Message-ID"]) for m in sink.messages)
    with platform_scope("test: read deliveries"):
        expected = {f"<{pk}@bookwell>" for pk in Delivery.objects.values_list("pk", flat=True)}
        reminders = Delivery.objects.filter(kind=Kind.REMINDER).count()
    assert reminders == REMINDERS  # recorded by the worker's own scan
    assert set(ids) == expected  # every message arrived
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates <= 1  # one kill: at most the one message in flight, twice
