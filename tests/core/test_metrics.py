"""/metrics (issue 11, P21): Prometheus text for the operator's scraper only (a token or an
allowed network, else 404); request latency by route name with no ids in any label; bookings
created, availability time, sign-in failures and denials counted; the task queue, failed
deliveries and the workers' heartbeats read from the database."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.bookings import test_public_booking

pytestmark = pytest.mark.django_db
setup = test_public_booking.setup  # the public booking tests' clinic (a fixture)

TOKEN = "m" * 32
AT = dt.datetime(2031, 3, 6, 9, 0, tzinfo=dt.UTC)  # a Thursday, 10:00 in Berlin


def _scrape(**headers: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_nobody_but_the_scraper_gets_in():
    assert Client().get("/metrics").status_code == 404  # nothing configured: closed
    with override_settings(METRICS_TOKEN=TOKEN):
        assert Client().get("/metrics").status_code == 404
        wrong = Client().get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
        assert wrong.status_code == 404
        right = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
    with override_settings(METRICS_ALLOWED_NETWORKS=["10.8.0.0/24"]):
        assert Client(REMOTE_ADDR="10.8.0.5").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="10.9.0.5").get("/metrics").status_code == 404
    # Behind the proxy, an address a client wrote into X-Forwarded-For does not count.
    with override_settings(
        METRICS_ALLOWED_NETWORKS=["10.8.0.0/24"], TRUSTED_PROXIES=["127.0.0.1/32"]
    ):
        forged = Client(REMOTE_ADDR="127.0.0.1").get(
            "/metrics", HTTP_X_FORWARDED_FOR="10.8.0.5, 198.51.100.7"
        )
        assert forged.status_code == 404
        through = Client(REMOTE_ADDR="127.0.0.1").get(
            "/metrics", HTTP_X_FORWARDED_FOR="10.8.0.5"
        )  # fmt: skip
        assert through.status_code == 200


def test_requests_are_timed_by_route_name_and_no_label_holds_an_id(clinic_a, setup, clock):
    from tests.bookings.test_public_booking import _book

    before = _value(
        "bookwell_http_request_duration_seconds_count",
        route="book:details", method="POST", status="3xx",
    )  # fmt: skip
    response = _book(Client(), clinic_a, setup, AT, clock, staff=setup.staff.pk)
    assert response.status_code == 302
    after = _value(
        "bookwell_http_request_duration_seconds_count",
        route="book:details", method="POST", status="3xx",
    )  # fmt: skip
    assert after == before + 1
    Client().get(f"/no/such/{uuid.uuid4()}/page")
    samples = _scrape()
    routes = {
        labels["route"] for labels, _v in samples["bookwell_http_request_duration_seconds_count"]
    }
    assert {"book:details", "unmatched"} <= routes
    every_label = [
        v for rows in samples.values() for labels, _ in rows for k, v in labels.items() if k != "le"
    ]  # (a histogram's bucket bounds aside)
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|/|\d{3,}|@")
    assert not [v for v in every_label if ids.search(v)]
    assert clinic_a.slug not in str(every_label)


def test_bookings_and_availability_are_counted(
    clinic_a, setup, clock, django_capture_on_commit_callbacks
):
    from tests.bookings.test_public_booking import _book

    booked = _value("bookwell_bookings_created_total", source="online")
    computed = _value("bookwell_availability_seconds_count", mode="range")
    checked = _value("bookwell_availability_seconds_count", mode="one_start")
    page = Client().get(
        test_public_booking._url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03", "day": "2031-03-06"},
    )
    assert page.status_code == 200
    assert _value("bookwell_availability_seconds_count", mode="range") > computed
    with django_capture_on_commit_callbacks(execute=True):  # (counted once committed)
        response = _book(Client(), clinic_a, setup, AT, clock, staff=setup.staff.pk)
    assert response.status_code == 302
    assert _value("bookwell_bookings_created_total", source="online") == booked + 1
    assert _value("bookwell_availability_seconds_count", mode="one_start") > checked


def test_signin_failures_and_denials_are_counted(clinic_a):
    from bookwell.tenancy.permissions import Role
    from tests.conftest import signed_in_client
    from tests.factories import make_member

    failures = _value("bookwell_signin_failures_total", outcome="failure")
    Client().post("/signin/", {"email": "nobody@example.test", "password": "wrong"})
    assert _value("bookwell_signin_failures_total", outcome="failure") == failures + 1
    practitioner = signed_in_client(make_member(clinic_a, Role.PRACTITIONER))
    denied = sum(
        v for labels, v in _scrape().get("bookwell_access_denials_total", [])
    )  # fmt: skip
    response = practitioner.get(f"/c/{clinic_a.slug}/payments/")
    assert response.status_code in (403, 404)
    after = sum(v for labels, v in _scrape()["bookwell_access_denials_total"])
    assert after == denied + 1


def test_the_queue_failed_deliveries_and_workers_come_from_the_database(clinic_a):
    from django_tasks_db.models import DBTaskResult

    from bookwell.core.health import heartbeat
    from bookwell.privacy.tasks import build_clinic_export

    samples = _scrape()
    assert samples["bookwell_task_queue_depth"] == [({}, 0.0)]
    assert samples["bookwell_task_queue_oldest_age_seconds"] == [({}, 0.0)]
    assert samples["bookwell_worker_heartbeat_age_seconds"] == [({}, -1.0)]
    build_clinic_export.enqueue(str(uuid.uuid4()))
    DBTaskResult.objects.update(enqueued_at=timezone.now() - dt.timedelta(seconds=90))
    heartbeat(worker="host:1", started_at=timezone.now())
    samples = _scrape()
    assert samples["bookwell_task_queue_depth"] == [({}, 1.0)]
    [(_labels, age)] = samples["bookwell_task_queue_oldest_age_seconds"]
    assert 90 <= age < 120
    assert samples["bookwell_workers_alive"] == [({}, 1.0)]
    [(_labels, beat)] = samples["bookwell_worker_heartbeat_age_seconds"]
    assert 0 <= beat < 30


def test_failed_deliveries_are_counted_across_clinics(clinic_a, clinic_b):
    from bookwell.core.context import clinic_context
    from bookwell.notifications.models import Channel, Delivery, DeliveryStatus, Kind

    now = timezone.now()
    for clinic, status, attempts in (
        (clinic_a, DeliveryStatus.FAILED, 6),
        (clinic_b, DeliveryStatus.FAILED, 6),
        (clinic_b, DeliveryStatus.PENDING, 2),
        (clinic_a, DeliveryStatus.SENT, 1),
    ):
        with clinic_context(clinic):
            Delivery.objects.create(
                clinic=clinic, kind=Kind.CONFIRMATION, channel=Channel.EMAIL, key=str(uuid.uuid4()),
                due_at=now, next_attempt_at=now, status=status, attempts=attempts,
            )  # fmt: skip
    from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus

    with clinic_context(clinic_b):
        endpoint = WebhookEndpoint.objects.create(
            clinic=clinic_b, url="https://hooks.example.test/x", secret="whsec_metrics",
            events=["appointment.created"],
        )  # fmt: skip
        tried = ((WebhookStatus.FAILED, 8), (WebhookStatus.PENDING, 1)) * 2
        for hook_status, hook_attempts in tried:
            WebhookDelivery.objects.create(
                clinic=clinic_b, endpoint=endpoint, event_id=uuid.uuid4(),
                event="appointment.created", status=hook_status, attempts=hook_attempts,
                next_attempt_at=now,
            )  # fmt: skip
        WebhookDelivery.objects.create(
            clinic=clinic_b,
            endpoint=endpoint,
            event_id=uuid.uuid4(),
            event="appointment.created",
            status=WebhookStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
        )  # fmt: skip (not tried yet: not a failure)
    samples = _scrape()
    rows = {labels["state"]: v for labels, v in samples["bookwell_notification_failures_last_hour"]}
    assert rows == {"failed": 2.0, "retrying": 1.0}
    hooks = {labels["state"]: v for labels, v in samples["bookwell_webhook_failures_last_hour"]}
    assert hooks == {"failed": 2.0, "retrying": 2.0}


def test_every_refused_token_is_counted_even_past_the_audit_logs_cap():
    """The audit log records a few refused tokens per network per ten minutes (a flood must
    not flood it); the metric counts all of them, for the repeated-denials alert."""
    from bookwell.audit.models import Action, AuditEvent

    before = _value("bookwell_access_denials_total", action=str(Action.API_TOKEN_REFUSED))
    for _ in range(12):
        answer = Client().get("/api/v1/clinic", headers={"Authorization": "Bearer bw_nope"})
        assert answer.status_code == 401
    after = _value("bookwell_access_denials_total", action=str(Action.API_TOKEN_REFUSED))
    assert after == before + 12
    from bookwell.core.context import platform_scope

    with platform_scope("test: the platform's audit chain"):
        assert AuditEvent.objects.filter(action=Action.API_TOKEN_REFUSED).count() == 5


def test_with_the_database_down_the_process_metrics_still_answer(monkeypatch):
    from django.db.utils import OperationalError

    from bookwell.core import metrics

    def down(self):  # the first query fails, as with PostgreSQL gone
        raise OperationalError("could not connect to server at 10.0.0.5")

    monkeypatch.setattr(metrics.DatabaseCollector, "_collect", down)
    samples = _scrape()
    assert samples["bookwell_database_up"] == [({}, 0.0)]
    assert "bookwell_http_request_duration_seconds_count" in samples
    assert "bookwell_task_queue_depth" not in samples
    monkeypatch.undo()
    assert _scrape()["bookwell_database_up"] == [({}, 1.0)]
