"""The demo seeds idempotently; `bookwell serve` serves the pages and static files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from bookwell.accounts.models import User
from bookwell.bookings.models import Appointment
from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from bookwell.core.demo import DEMO_CLIENTS, DEMO_PASSWORD, DEMO_USERS, seed_demo
from bookwell.scheduling.models import Location, Service
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Role


@pytest.mark.django_db
def test_demo_creates_the_demo_clinic_and_its_team_once():
    out = StringIO()
    call_command("demo", stdout=out)
    clinic = seed_demo()  # a second run changes nothing

    assert Clinic.objects.filter(slug="demo").count() == 1
    with clinic_context(clinic):
        roles = sorted(Membership.objects.values_list("role", flat=True))
    assert roles.count(Role.PRACTITIONER) == 3
    assert {Role.OWNER, Role.ADMIN, Role.FRONT_DESK} <= set(roles)
    assert User.objects.count() == len(DEMO_USERS)
    with clinic_context(clinic):
        assert Client.objects.count() == DEMO_CLIENTS
        assert Service.objects.count() == 8 and Location.objects.count() == 2
        assert Appointment.objects.count() > 200  # around today, staying idempotent below
        appointments = Appointment.objects.count()
    seed_demo()
    with clinic_context(clinic):
        assert Appointment.objects.count() == appointments
    for spec in DEMO_USERS:
        assert spec.email in out.getvalue()
        assert User.objects.get(email=spec.email).check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_a_demo_started_again_weeks_later_shows_a_full_week():
    import datetime as dt

    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() - dt.timedelta(days=70), tick=False):
        clinic = seed_demo()
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    week = (
        dt.datetime.combine(monday, dt.time(), dt.UTC),
        dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), dt.UTC),
    )
    with clinic_context(clinic):
        assert not Appointment.objects.filter(start__range=week).exists()  # long gone by
        # Someone trying the demo changed things: nothing of that stops the top-up.
        from bookwell.scheduling.models import StaffMember

        Service.objects.filter(pk=Service.objects.order_by("pk")[0].pk).update(archived=True)
        practitioner = StaffMember.objects.filter(user__isnull=False).order_by("pk")[0]
        Service.objects.order_by("pk")[1].staff.remove(practitioner)
    seed_demo()
    with clinic_context(clinic):
        this_week = Appointment.objects.filter(start__range=week).count()
        assert this_week >= 50  # about twenty on each weekday
        total = Appointment.objects.count()
    seed_demo()  # and again: days that have bookings are left alone
    with clinic_context(clinic):
        assert Appointment.objects.count() == total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_answers_the_landing_and_sign_in_pages(tmp_path: Path):
    """...with two gunicorn workers, whose metrics one scrape adds up, and JSON log lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env["BOOKWELL_DATA_DIR"] = str(tmp_path)
    env["BOOKWELL_METRICS_TOKEN"] = token = "t" * 32
    bookwell = [sys.executable, "-m", "bookwell"]
    subprocess.run([*bookwell, "migrate", "-v0"], env=env, check=True, timeout=120)
    port = _free_port()
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [*bookwell, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        landing = _get(base + "/")
        signin = _get(base + "/signin/")
        css = _get(base + "/static/css/app.css")
        htmx = _get(base + "/static/django_htmx/htmx-2.min.js")
        reset_token = "d3adb33f-0123456789abcdef0123456789abcdef"
        invite_token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
        _get(f"{base}/password/reset/MTIz/{reset_token}/")
        _get(f"{base}/invite/{invite_token}/?email=someone@example.test")
        for _ in range(11):  # spread over both workers
            _get(base + "/signin/")
        metrics = urllib.request.Request(
            base + "/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(metrics, timeout=5) as r:
            scraped = r.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)

    written = log.read_text()
    from prometheus_client.parser import text_string_to_metric_families

    counts = [
        s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
        if s.name == "bookwell_http_request_duration_seconds_count"
        and s.labels["route"] == "accounts:signin"
    ]
    assert sum(counts) == 12  # every worker's requests, in one scrape
    import json

    access = [json.loads(line) for line in written.splitlines() if '"gunicorn.access"' in line]
    assert len(access) >= 15 and all(len(line["request_id"]) == 16 for line in access)
    assert {"method", "path", "status", "duration_ms"} <= set(access[0])
    assert "/password/reset/***/***/" in written and "/invite/***/" in written
    for secret in (reset_token, invite_token, "MTIz", "someone@example.test", "127.0.0.1 "):
        assert secret not in written, secret

    assert landing[0] == 200 and b"Bookwell" in landing[1]
    assert signin[0] == 200 and b'name="password"' in signin[1]
    assert css[0] == 200 and b"--brand" in css[1]
    assert htmx[0] == 200


def test_serve_refuses_to_start_with_a_wrong_master_key(tmp_path: Path):
    import base64

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env["BOOKWELL_DATA_DIR"] = str(tmp_path)
    bookwell = [sys.executable, "-m", "bookwell"]
    subprocess.run([*bookwell, "migrate", "-v0"], env=env, check=True, timeout=120)
    subprocess.run([*bookwell, "demo"], env=env, check=True, timeout=120, capture_output=True)
    wrong = base64.b64encode(b"\x42" * 32).decode()
    env["BOOKWELL_MASTER_KEYS"] = f"dev1:{wrong}"

    result = subprocess.run(
        [*bookwell, "serve", "--bind", f"127.0.0.1:{_free_port()}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "'dev1'" in result.stderr and "wrong key" in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
