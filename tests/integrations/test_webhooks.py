"""Webhooks: signed, delivered in order per endpoint with retries, logged without bodies,
switched off after repeated failures (the clinic is told), never sent into private networks
unless a setting allows it (tests), contact details only where the clinic turned them on."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule
from tests.factories import make_member

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)
AT = dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC)


class Receiver:
    """A web server on a loopback port that records what it gets; the first `fail` requests
    are answered 500."""

    def __init__(self, fail: int = 0) -> None:
        self.got: list[dict[str, Any]] = []
        self.fail = fail
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(
                    {"headers": dict(self.headers), "body": body, "at": time.time()}
                )
                status = 500 if receiver.fail > 0 else 204
                receiver.fail -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _endpoint(clinic, url: str, events: list[str], **kw: Any) -> tuple[WebhookEndpoint, str]:
    with clinic_context(clinic), override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        return webhooks.endpoint_create(clinic=clinic, url=url, events=events, **kw)


def _book(setup, hour: int, client=None):
    with clinic_context(setup.clinic):
        return appointment_book(
            clinic=setup.clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=AT.replace(hour=hour),
                client=client,
            ),
        )


def _run_worker(clock, rounds: int = 12) -> None:
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        for _ in range(rounds):
            webhooks.dispatch_due()
            clock.shift(dt.timedelta(minutes=10))  # past any backoff so far


def test_a_signature_verifies_and_a_changed_body_or_old_timestamp_does_not():
    secret, body = webhooks.new_secret(), b'{"type":"client.created"}'
    header = webhooks.signature(secret, 1_900_000_000, body)
    assert webhooks.verify(secret, header, body, now=1_900_000_010)
    assert not webhooks.verify(secret, header, body + b" ", now=1_900_000_010)
    assert not webhooks.verify("whsec_other", header, body, now=1_900_000_010)
    assert not webhooks.verify(secret, header, body, now=1_900_000_000 + 6 * 60)  # replayed
    assert not webhooks.verify(secret, "garbage", body, now=1_900_000_000)


def test_events_arrive_in_order_signed_with_retries_after_failures(clinic_a, clock, receiver):
    setup = schedule(clinic_a)
    _endpoint_row, secret = _endpoint(clinic_a, receiver.url, ["appointment.created"])
    receiver.fail = 2  # the first two tries fail
    made = [_book(setup, hour) for hour in (9, 10, 11)]

    _run_worker(clock)

    events = receiver.events()
    ids = [e["data"]["id"] for e in events]
    # Two failed tries of the first event, then each event once, in the order they happened.
    assert ids == [str(made[0].pk)] * 3 + [str(made[1].pk), str(made[2].pk)]
    for request in receiver.got:
        headers = request["headers"]
        assert headers["Bookwell-Event"] == "appointment.created"
        signed = headers["Bookwell-Signature"]
        assert webhooks.verify(secret, signed, request["body"], now=request["at"])
    first = events[0]
    assert first["type"] == "appointment.created" and first["clinic_id"] == clinic_a.pk
    assert first["data"]["staff_id"] == setup.staff.pk and first["data"]["status"] == "confirmed"
    with clinic_context(clinic_a):
        log = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.status for d in log] == [WebhookStatus.DELIVERED] * 3
    assert [d.attempts for d in log] == [3, 1, 1]
    assert log[0].status_code == 204 and log[0].duration_ms is not None


def test_contact_details_only_where_turned_on_and_never_stored(clinic_a, clock, receiver):
    setup = schedule(clinic_a)
    _endpoint(clinic_a, receiver.url, ["appointment.created", "client.created"])
    other = Receiver()
    _endpoint(clinic_a, other.url, ["appointment.created"], include_contact=True)
    with clinic_context(clinic_a):
        client = client_create(
            clinic=clinic_a,
            data=ClientInput(full_name="Ada Sentinel", email="ada.sentinel@example.test"),
        )
    _book(setup, 9, client=client)
    _run_worker(clock)
    plain = json.dumps(receiver.events())
    assert "ada.sentinel" not in plain and "Sentinel" not in plain
    assert [e["type"] for e in receiver.events()] == ["client.created", "appointment.created"]
    told = other.events()
    assert told[0]["data"]["contact"]["email"] == "ada.sentinel@example.test"
    with clinic_context(clinic_a):
        stored = json.dumps(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    assert "ada.sentinel" not in stored
    other.server.shutdown()


@override_settings(WEBHOOKS_DISABLE_AFTER=3, WEBHOOKS_MAX_ATTEMPTS=10)
def test_an_endpoint_that_keeps_failing_is_switched_off_and_the_clinic_told(
    clinic_a, clock, receiver, django_capture_on_commit_callbacks
):
    owner = make_member(clinic_a, Role.OWNER)
    make_member(clinic_a, Role.FRONT_DESK)
    setup = schedule(clinic_a)
    endpoint, _ = _endpoint(clinic_a, receiver.url, ["appointment.created"])
    receiver.fail = 100
    _book(setup, 9)
    with django_capture_on_commit_callbacks(execute=True):
        _run_worker(clock)
    assert len(receiver.got) == 3  # then nothing more is sent to it
    with clinic_context(clinic_a):
        endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_reason == "failures"
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert receiver.url in mail.outbox[0].body or "webhooks" in mail.outbox[0].body


def test_private_addresses_are_refused_unless_allowed(clinic_a, clock, receiver):
    for url in (
        "http://127.0.0.1:8000/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://192.168.0.10/x",
        "http://localhost/x",
    ):
        with pytest.raises(webhooks.Refused) as refused:
            webhooks.resolve(url)
        assert refused.value.code == "private_address", url
        with clinic_context(clinic_a), pytest.raises(ValidationError):
            webhooks.endpoint_create(clinic=clinic_a, url=url, events=["client.created"])
    with override_settings(WEBHOOKS_ALLOW_HTTP=False), pytest.raises(webhooks.Refused):
        webhooks.resolve("http://93.184.215.14/x")
    # Made while allowed, sent while not: refused at send time too (no request goes out).
    setup = schedule(clinic_a)
    _endpoint(clinic_a, receiver.url, ["appointment.created"])
    _book(setup, 9)
    webhooks.dispatch_due()
    assert receiver.got == []
    with clinic_context(clinic_a):
        assert WebhookDelivery.objects.get().error_code == "refused:private_address"


def test_the_page_adds_a_webhook_shows_its_log_and_sends_again(
    clinic_a, clock, receiver, member_client
):
    _, browser = member_client(clinic_a, Role.ADMIN)
    url = reverse("integrations:webhooks", kwargs={"clinic_slug": clinic_a.slug})
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        made = browser.post(url, {"url": receiver.url, "events": ["client.created"]})
    assert made.status_code == 200 and made.context["secret"].startswith("whsec_")
    assert made.context["secret"] not in browser.get(url).content.decode()
    assert (
        browser.post(url, {"url": "http://10.0.0.1/in", "events": ["client.created"]}).status_code
        == 400
    )
    with clinic_context(clinic_a):
        client_create(clinic=clinic_a, data=ClientInput(full_name="Log Person"))
    _run_worker(clock, rounds=1)
    endpoint = made.context["made"]
    detail = reverse(
        "integrations:webhook", kwargs={"clinic_slug": clinic_a.slug, "endpoint_id": endpoint.pk}
    )
    page = browser.get(detail).content.decode()
    assert "204" in page and "Log Person" not in page
    with clinic_context(clinic_a):
        delivery = WebhookDelivery.objects.get()
    again = reverse(
        "integrations:webhook-redeliver",
        kwargs={"clinic_slug": clinic_a.slug, "delivery_id": delivery.pk},
    )
    assert browser.post(again).status_code == 302
    _run_worker(clock, rounds=1)
    assert [json.loads(r["body"])["id"] for r in receiver.got] == [str(delivery.event_id)] * 2


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.PRACTITIONER, Role.READ_ONLY])
def test_only_owners_and_admins_manage_webhooks(clinic_a, member_client, role):
    _, browser = member_client(clinic_a, role)
    url = reverse("integrations:webhooks", kwargs={"clinic_slug": clinic_a.slug})
    assert browser.get(url).status_code == 403


def test_the_documented_verification_example_accepts_our_signatures():
    """docs/api.md's receiver code, run against a real signature (the docs cannot drift)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(code, "docs/api.md", "exec"), scope)  # our own docs
    secret, body = webhooks.new_secret(), b'{"type":"client.updated"}'
    header = webhooks.signature(secret, int(time.time()), body)
    assert scope["is_from_bookwell"](secret, header, body)
    assert not scope["is_from_bookwell"](secret, header, body + b"x")
    stale = webhooks.signature(secret, int(time.time()) - 600, body)
    assert not scope["is_from_bookwell"](secret, stale, body)


def test_unicode_paths_are_sent_percent_encoded(clinic_a, clock, receiver):
    setup = schedule(clinic_a)
    _endpoint(clinic_a, receiver.url + "/ärzte?team=zähne", ["appointment.created"])
    paths: list[str] = []
    handler = receiver.server.RequestHandlerClass
    original = handler.do_POST

    def remember(self: Any) -> None:
        paths.append(self.path)
        original(self)

    handler.do_POST = remember
    _book(setup, 9)
    _run_worker(clock, rounds=1)
    assert paths == ["/hooks/%C3%A4rzte?team=z%C3%A4hne"]
    with clinic_context(clinic_a):
        assert WebhookDelivery.objects.get().status == WebhookStatus.DELIVERED


@override_settings(WEBHOOKS_TIMEOUT=1)
def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off(clinic_a):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def drip() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    began = time.monotonic()
    with (
        override_settings(WEBHOOKS_ALLOW_PRIVATE=True),
        pytest.raises((OSError, http.client.HTTPException)),
    ):
        webhooks.post(f"http://127.0.0.1:{port}/in", b"{}", {"Content-Type": "application/json"})
    assert time.monotonic() - began < 3  # not 100 bytes x 0.2 s
    server.close()


def test_a_delivery_not_due_or_not_first_in_line_is_not_taken(clinic_a, clock, receiver):
    setup = schedule(clinic_a)
    _endpoint(clinic_a, receiver.url, ["appointment.created"])
    _book(setup, 9)
    _book(setup, 10)
    with clinic_context(clinic_a):
        first, second = WebhookDelivery.objects.order_by("pk")
        WebhookDelivery.objects.filter(pk=first.pk).update(
            next_attempt_at=START + dt.timedelta(hours=1)
        )
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        assert webhooks.deliver(first.pk) == "taken"  # a stale due list: not due any more
        assert webhooks.deliver(second.pk) == "taken"  # the first is still waiting
    assert receiver.got == []


def test_a_worker_that_lost_its_lease_records_nothing(clinic_a, clock, receiver, monkeypatch):
    setup = schedule(clinic_a)
    _endpoint(clinic_a, receiver.url, ["appointment.created"])
    _book(setup, 9)
    with clinic_context(clinic_a):
        delivery = WebhookDelivery.objects.get()

    real_post = webhooks.post

    def slow_post(url: str, body: bytes, headers: dict[str, str]) -> int:
        # Meanwhile the lease ran out and another worker took the delivery over.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            lease_until=START + dt.timedelta(hours=2)
        )
        return real_post(url, body, headers)

    monkeypatch.setattr(webhooks, "post", slow_post)
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        assert webhooks.deliver(delivery.pk) == "lease_lost"
    with clinic_context(clinic_a):
        delivery.refresh_from_db()
    assert delivery.status == WebhookStatus.SENDING and delivery.status_code is None


def test_nat64_and_ipv4_compatible_forms_of_private_addresses_are_refused():
    for url in ("http://[64:ff9b::a9fe:a9fe]/x", "http://[::7f00:1]/x", "http://[64:ff9b:1::1]/x"):
        with pytest.raises(webhooks.Refused) as refused:
            webhooks.resolve(url)
        assert refused.value.code == "private_address", url


def test_a_port_out_of_range_is_a_form_error(clinic_a, member_client):
    _, browser = member_client(clinic_a, Role.OWNER)
    url = reverse("integrations:webhooks", kwargs={"clinic_slug": clinic_a.slug})
    page = browser.post(url, {"url": "https://example.com:99999/x", "events": ["client.created"]})
    assert page.status_code == 400
    with clinic_context(clinic_a):
        assert not WebhookEndpoint.objects.exists()


def test_an_import_tells_about_every_client_it_made(clinic_a, clock, receiver):
    from bookwell.clients.csv_io import import_clients

    _endpoint(clinic_a, receiver.url, ["client.created"])
    data = "full_name,email\nAda One,ada.one@example.test\nBea Two,bea.two@example.test\n"
    with clinic_context(clinic_a):
        report = import_clients(clinic=clinic_a, data=data.encode())
    assert report.imported == 2
    _run_worker(clock, rounds=3)
    told = receiver.events()
    assert [e["type"] for e in told] == ["client.created"] * 2
    assert len({e["data"]["client_id"] for e in told}) == 2
    assert "ada.one" not in json.dumps(told)


def test_every_change_made_through_the_api_is_an_event_in_order(clinic_a, clock):
    """Each event a clinic can subscribe to for appointments and clients, made through the
    API: recorded for the endpoint in the order the changes happened, each with its ids."""
    from bookwell.integrations.models import WebhookEvent
    from tests.bookings.factories import works_every_day
    from tests.integrations.helpers import ApiClient, token_for

    setup = schedule(clinic_a)
    works_every_day(setup, start_min=0, end_min=24 * 60)
    wanted = [
        WebhookEvent.CLIENT_CREATED,
        WebhookEvent.CLIENT_UPDATED,
        WebhookEvent.APPOINTMENT_CREATED,
        WebhookEvent.APPOINTMENT_RESCHEDULED,
        WebhookEvent.APPOINTMENT_CANCELLED,
        WebhookEvent.APPOINTMENT_STATUS_CHANGED,
    ]
    _endpoint(clinic_a, "http://127.0.0.1:9/hooks", [e.value for e in wanted])  # (not sent)
    api = ApiClient(token_for(clinic_a))

    def answer(response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.content
        return dict(json.loads(response.content))

    client = answer(api.post("/clients", {"full_name": "Ada Hook"}), 201)
    answer(api.patch(f"/clients/{client['id']}", {"preferred_language": "de"}), 200)
    first = {"service": setup.service.pk, "staff": setup.staff.pk, "client": client["id"]}
    one = answer(api.post("/appointments", {**first, "start": AT.isoformat()}), 201)
    moved = (AT + dt.timedelta(hours=2)).isoformat()
    answer(api.post(f"/appointments/{one['id']}/reschedule", {"start": moved}), 200)
    answer(api.post(f"/appointments/{one['id']}/cancel", {"reason": "illness"}), 200)
    two = answer(api.post("/appointments", {**first, "start": AT.isoformat()}), 201)
    answer(api.post(f"/appointments/{two['id']}/status", {"status": "checked_in"}), 200)
    with clinic_context(clinic_a):
        sent = list(WebhookDelivery.objects.order_by("pk").values_list("event", "payload"))
    assert [event for event, _payload in sent] == [
        WebhookEvent.CLIENT_CREATED,
        WebhookEvent.CLIENT_UPDATED,
        WebhookEvent.APPOINTMENT_CREATED,
        WebhookEvent.APPOINTMENT_RESCHEDULED,
        WebhookEvent.APPOINTMENT_CANCELLED,
        WebhookEvent.APPOINTMENT_CREATED,
        WebhookEvent.APPOINTMENT_STATUS_CHANGED,
    ]
    data = [payload["data"] for _event, payload in sent]
    assert [d.get("id") or d["client_id"] for d in data] == (
        [client["id"]] * 2 + [one["id"]] * 3 + [two["id"]] * 2
    )
    assert [payload["type"] for _event, payload in sent] == [event for event, _ in sent]
    assert dt.datetime.fromisoformat(data[3]["start"]) == AT + dt.timedelta(hours=2)
    assert data[4]["status"] == "cancelled_clinic" and data[4]["cancel_reason"] == "illness"
    assert data[6]["status"] == "checked_in"
