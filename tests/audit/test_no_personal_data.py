"""P7: after a scenario full of personal data (sign-ins good and bad, a new client, a walk-in
booked and moved through the pages, an API read and an export), no audit, security-hash,
delivery, webhook or task row and no captured log line holds the scenario's names, email
addresses, phone numbers or full addresses. (Full addresses are kept, by design, only in the
short-lived security table, P6.)"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from bookwell.core.context import clinic_context, platform_scope
from bookwell.scheduling.models import WorkingHours
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 8, 0, tzinfo=dt.UTC)
SENTINEL_NAME = "Zebulon Quarrington"
SENTINEL_EMAIL = "zebulon.quarrington@example.test"
SENTINEL_PHONE = "+49 30 98765432"
STAFF_EMAIL = "sentinel.staff@example.test"
ADDRESS = "8.8.4.123"
ADDRESS_V6 = "2a00:1450:4001:82b::200e"  # kept as its /48 only
# Tables whose rows the scan reads: everything but where personal data belongs.
SCANNED_APPS = {
    "audit",
    "telemetry",
    "notifications",
    "integrations",
    "django_tasks_database",
    "core",
}
EXEMPT = {"audit.SecuritySighting"}  # full addresses for 7 days, on purpose (P6)
PATTERNS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "phone": re.compile(r"\+\d[\d ]{7,}\d"),
    "ipv4": re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.(?!0/)\d{1,3}\b"),
}


def _rows_text() -> dict[str, str]:
    out = {}
    with platform_scope("test: scan every row"), connection.cursor() as cursor:
        for model in apps.get_models():
            label = model._meta.label
            if model._meta.app_label not in SCANNED_APPS or label in EXEMPT:
                continue
            cursor.execute(f'SELECT * FROM "{model._meta.db_table}"')
            out[label] = " ".join(str(v) for row in cursor.fetchall() for v in row)
    return out


def test_a_full_scenario_leaves_no_personal_data_in_audit_delivery_task_rows_or_logs(
    clinic_a, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        for weekday in range(5):
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=setup.staff,
                location=setup.location,
                weekday=weekday,
                start_min=9 * 60,
                end_min=17 * 60,
            )
    owner = make_member(clinic_a, Role.OWNER, email=STAFF_EMAIL)
    desk = Client(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)")
    # A wrong password, then the right one.
    desk.post("/signin/", {"email": STAFF_EMAIL, "password": "wrong"})
    assert desk.post("/signin/", {"email": STAFF_EMAIL, "password": PASSWORD}).status_code == 302
    day = dt.date(2031, 3, 6)
    booked = desk.post(
        reverse("bookings:new", kwargs={"clinic_slug": clinic_a.slug}),
        {
            "staff": setup.staff.pk,
            "service": setup.service.pk,
            "date": day.isoformat(),
            "time": "10:00",
            "new_client_name": SENTINEL_NAME,
            "new_client_email": SENTINEL_EMAIL,
            "new_client_phone": SENTINEL_PHONE,
        },
    )
    assert booked.status_code in (200, 302)
    from bookwell.bookings.models import Appointment
    from bookwell.clients.models import Client as ClientRecord

    with clinic_context(clinic_a):
        appointment = Appointment.objects.get()
        person = ClientRecord.objects.get()
    moved = desk.post(
        reverse(
            "bookings:move",
            kwargs={"clinic_slug": clinic_a.slug, "appointment_id": appointment.pk},
        ),
        {"date": day.isoformat(), "time": "14:00"},
    )
    assert moved.status_code in (200, 302)
    detail = desk.get(
        reverse("clients:detail", kwargs={"clinic_slug": clinic_a.slug, "client_id": person.pk})
    )
    assert SENTINEL_NAME in detail.content.decode()  # the page shows it; the trail must not
    export = desk.get(reverse("clients:export", kwargs={"clinic_slug": clinic_a.slug}))
    assert SENTINEL_EMAIL in b"".join(export.streaming_content).decode()
    from bookwell.integrations.services import api_token_create

    with clinic_context(clinic_a):
        _token, secret = api_token_create(
            clinic=clinic_a, name="Sync", scopes=["clients:read"], created_by=owner
        )
    api = Client(REMOTE_ADDR=ADDRESS).get(
        f"/api/v1/clients/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert api.status_code == 200
    # A token that does not work (refused and recorded).
    refused = Client(REMOTE_ADDR=ADDRESS).get(
        "/api/v1/clinic", HTTP_AUTHORIZATION=f"Bearer {secret[:-4]}abcd"
    )
    assert refused.status_code == 401
    # The messages go out: the confirmation and the move, by email (with the client's name).
    from django.core import mail

    from bookwell.notifications.services import dispatch_due

    assert dispatch_due().get("sent", 0) >= 1
    assert any(SENTINEL_NAME in m.body for m in mail.outbox)  # the provider gets it; we don't
    # The owner turns on an authenticator app, then a second sign-in fails its code.
    import pyotp

    desk.get("/account/mfa/")
    totp_secret = desk.session["bookwell_mfa_enrol_secret"]
    enrolled = desk.post(
        "/account/mfa/", {"code": pyotp.TOTP(totp_secret).now(), "password": PASSWORD}
    )
    assert enrolled.status_code == 200
    phone = Client(REMOTE_ADDR=ADDRESS_V6, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    assert phone.post("/signin/", {"email": STAFF_EMAIL, "password": PASSWORD}).status_code == 302
    wrong = "000000" if pyotp.TOTP(totp_secret).now() != "000000" else "111111"
    assert phone.post("/signin/verify/", {"code": wrong}).status_code in (200, 400)

    rows = _rows_text()
    assert {label.split(".")[0] for label in rows} == SCANNED_APPS  # every one was read
    assert rows["audit.AuditEvent"]  # the scenario was recorded
    assert rows["telemetry.UsageDay"]  # and counted
    from bookwell.audit.models import Action, AuditEvent

    with platform_scope("test"):
        recorded = set(AuditEvent.objects.values_list("action", flat=True))
        networks = set(AuditEvent.objects.values_list("ip_network", flat=True))
    assert "2a00:1450:4001::/48" in networks  # the IPv6 sign-in, masked
    assert {
        Action.SIGNIN_FAILED,
        Action.SIGNIN_SUCCEEDED,
        Action.MFA_ENABLED,
        Action.MFA_FAILED,
        Action.CLIENTS_EXPORTED,
        Action.CLIENT_VIEWED,
        Action.API_TOKEN_REFUSED,
    } <= recorded
    logs = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    places = {**rows, "captured logs": logs}
    found = {
        (place, secret)
        for place, text in places.items()
        for secret in (
            SENTINEL_NAME,
            "Quarrington",
            SENTINEL_EMAIL,
            STAFF_EMAIL,
            ADDRESS,
            ADDRESS_V6,
            "82b::200e",  # any tail of it
            SENTINEL_PHONE,
            "98765432",  # the number's digits, however formatted
        )
        if secret in text
    }
    assert found == set()
    patterns = {
        (place, kind, match)
        for place, text in places.items()
        for kind, pattern in PATTERNS.items()
        for match in pattern.findall(text)
    }
    assert patterns == set()
