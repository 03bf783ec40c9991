"""Structured logs without personal data (issue 11, P7): one JSON object per line with the
request id of the request (or worker round) it belongs to; a scrubber that drops personal
attributes and masks email, phone and IP patterns; and a whole scenario (booking, sign-in
failures, a failing mail server, a crashing view) whose sentinel values never reach the log."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bookwell.core.logformat import JsonLines, Scrubber, log_context, scrub
from tests.bookings import test_public_booking

setup = test_public_booking.setup  # the public booking tests' clinic (a fixture)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to zelda.s+x@example.test failed", "to [email] failed"),
        ("from 203.0.113.77 again", "from [ip] again"),
        ("peer 2001:db8:85a3::8a2e:370:7334 gone", "peer [ip] gone"),
        ("call +49 151 98765432 now", "call [phone] now"),
        ("call (030) 1234-5678 now", "call [phone] now"),
        ("sms to 015198765432", "sms to [phone]"),
        ("mapped ::ffff:203.0.113.7 here", "mapped [ip][ip] here"),
        ("link-local fe80::1 and 2001::1", "link-local [ip] and [ip]"),
        ("query ?to=alice%40example.com", "query ?to=[email]"),
    ],
)
def test_personal_patterns_are_masked(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "at 2031-03-06 10:00:00.123 UTC",
        "took 1234 ms for 100 rows",
        "delivery 3f1c2a9e-1b2d-4c5e-8f90-123456789abc failed",
        "version 17:36:09, 12:30",
        "job payments.holds ran",
        "Listening at: http://127.0.0.1:8001 (loopback is nobody's address)",
    ],
)
def test_ordinary_values_are_kept(text):
    assert scrub(text) == text


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bookwell.test", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_the_scrubber_drops_personal_attributes_and_masks_the_message():
    record = _record(
        "could not reach %s", "ada@example.test", email="ada@example.test", phone="+4915112345678",
        delivery="0f0e", code="email:SMTPRecipientsRefused",
    )  # fmt: skip
    with log_context("abcdef0123456789"):
        assert Scrubber().filter(record) is True
    line = json.loads(JsonLines().format(record))
    assert line["message"] == "could not reach [email]"
    assert line["request_id"] == "abcdef0123456789"
    assert (line["delivery"], line["code"]) == ("0f0e", "email:SMTPRecipientsRefused")
    assert not hasattr(record, "email") and not hasattr(record, "phone")
    assert "ada@" not in json.dumps(line) and "4915112345678" not in json.dumps(line)


def test_an_exception_keeps_its_frames_and_class_not_its_message():
    try:
        raise ValueError("no client ada@example.test with phone +49 151 98765432")
    except ValueError:
        import sys

        record = _record("failed")
        record.exc_info = sys.exc_info()
    Scrubber().filter(record)
    line = json.loads(JsonLines().format(record))
    assert line["exception"].startswith("Traceback")
    assert line["exception"].splitlines()[-1] == "ValueError"
    assert "test_logs.py" in line["exception"]
    assert "ada@" not in line["exception"] and "98765432" not in line["exception"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The app's own logging configuration (settings.LOGGING: scrubber, JSON lines), at DEBUG,
    writing to a buffer."""
    buffer = io.StringIO()
    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["stream"] = buffer
    config["handlers"]["console"]["formatter"] = "json"
    config["root"]["level"] = "DEBUG"  # (the loggers the app quiets stay quiet, as deployed)
    logging.config.dictConfig(config)
    try:
        yield buffer
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_request_id(captured):
    from tests.factories import UserFactory

    UserFactory(email="grace@example.test")
    with override_settings(
        MAILERS={"default": {"BACKEND": "tests.core.test_mail_logging.RefusingBackend"}}
    ):
        response = Client().post("/password/reset/", {"email": "grace@example.test"})
    rid = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    logging.getLogger("bookwell.test").info("outside any request")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines, "the refused mail logs nothing?"
    assert [ln for ln in lines if ln["request_id"] == rid]
    assert lines[-1]["request_id"] == "-"
    assert all(set(ln) >= {"time", "level", "logger", "message", "request_id"} for ln in lines)


@pytest.mark.django_db
def test_a_request_id_from_the_proxy_is_kept_only_from_a_trusted_proxy():
    given = {"HTTP_X_REQUEST_ID": "nginx-4f2a9c0d1e2b3a4f"}
    with override_settings(TRUSTED_PROXIES=["127.0.0.1/32"]):
        trusted = Client().get("/healthz", REMOTE_ADDR="127.0.0.1", **given)
        outsider = Client().get("/healthz", REMOTE_ADDR="198.51.100.9", **given)
        forged = Client().get(
            "/healthz", REMOTE_ADDR="127.0.0.1", HTTP_X_REQUEST_ID="x\n{evil}"
        )  # fmt: skip
    assert trusted["X-Request-ID"] == "nginx-4f2a9c0d1e2b3a4f"
    assert outsider["X-Request-ID"] != "nginx-4f2a9c0d1e2b3a4f"
    assert re.fullmatch(r"[0-9a-f]{16}", forged["X-Request-ID"])


AT = dt.datetime(2031, 3, 6, 9, 0, tzinfo=dt.UTC)  # a Thursday, 10:00 in Berlin
NAME, EMAIL, PHONE, IP = (
    "Zelda Sentinelson",
    "zelda.sentinel@example.test",
    "+4915198765432",
    ("203.0.113.77"),
)


@pytest.mark.django_db(transaction=True)
def test_the_scenario_leaves_none_of_its_sentinels_in_the_log(
    captured, clinic_a, setup, clock, monkeypatch
):
    """A client books on the public page (name, email, phone, address), the worker sends the
    confirmation to a mail server that refuses it (naming the recipient), someone fails to
    sign in as the client from the client's address, and a staff page crashes on an error
    that quotes the client: the log has lines for all of it, and none of the sentinels."""
    from bookwell.bookings import views as booking_views
    from bookwell.bookings.models import Appointment
    from bookwell.core.context import clinic_context
    from bookwell.notifications.services import dispatch_due
    from bookwell.tenancy.permissions import Role
    from tests.bookings.test_public_booking import _book
    from tests.conftest import signed_in_client
    from tests.factories import make_member

    booked = _book(
        Client(REMOTE_ADDR=IP), clinic_a, setup, AT, clock, staff=setup.staff.pk,
        full_name=NAME, email=EMAIL, phone=PHONE,
    )  # fmt: skip
    assert booked.status_code == 302, booked.content.decode()[:500]
    with clinic_context(clinic_a):
        appointment = Appointment.objects.get()
    with override_settings(
        MAILERS={"default": {"BACKEND": "tests.core.test_mail_logging.RefusingBackend"}}
    ):
        dispatch_due(limit=10)
    for _ in range(3):
        Client(REMOTE_ADDR=IP).post("/signin/", {"email": EMAIL, "password": "wrong"})

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"cannot show {NAME} <{EMAIL}> {PHONE} from {IP}")

    owner = make_member(clinic_a, Role.OWNER)
    monkeypatch.setattr(booking_views, "render", crash)
    staff = signed_in_client(owner)
    staff.raise_request_exception = False
    crashed = staff.get(f"/c/{clinic_a.slug}/appointments/{appointment.pk}/", REMOTE_ADDR=IP)
    assert crashed.status_code == 500
    text = captured.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    messages = " | ".join(ln["message"] for ln in lines)
    # The log did record what happened...
    assert "email could not be sent" in messages or "delivery failed" in messages, messages
    [crash_line] = [ln for ln in lines if "RuntimeError" in ln.get("exception", "")]
    assert crash_line["level"] == "ERROR"
    assert crash_line["request_id"] == crashed["X-Request-ID"]
    # ...and nothing of the person.
    for sentinel in (NAME, "Sentinelson", EMAIL, "zelda.sentinel", PHONE, "98765432", IP):
        assert sentinel not in text, sentinel


def test_a_server_error_logged_after_the_middleware_names_its_request():
    """Django logs a 500 once the middleware has returned (outside the request's context): the
    record's request carries the id."""

    class Request:
        request_id = "0123456789abcdef"

    record = _record("Internal Server Error: /api/v1/x")
    record.request = Request()
    Scrubber().filter(record)
    assert json.loads(JsonLines().format(record))["request_id"] == "0123456789abcdef"


@pytest.mark.django_db
def test_the_forwarded_scheme_counts_only_from_a_trusted_proxy():
    """X-Forwarded-Proto says "this came over HTTPS": believed from nginx, dropped from anyone
    else (as X-Forwarded-For and X-Request-ID are)."""
    from django.http import HttpRequest, HttpResponse

    from bookwell.core.middleware import proxy_headers_from_proxies_only

    seen: list[bool] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.is_secure())
        return HttpResponse()

    middleware = proxy_headers_from_proxies_only(view)
    with override_settings(
        TRUSTED_PROXIES=["127.0.0.1/32"],
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    ):
        for remote in ("127.0.0.1", "198.51.100.9"):
            request = HttpRequest()
            request.META.update(REMOTE_ADDR=remote, HTTP_X_FORWARDED_PROTO="https")
            middleware(request)
    assert seen == [True, False]


def test_djangos_own_loggers_and_the_proxy_middleware_are_wired_in():
    """Django's loggers have no handlers of their own (theirs would skip the scrubber), and
    the proxy-header middleware runs first."""
    from django.conf import settings

    logging_config: dict[str, Any] = settings.LOGGING
    for name in ("django", "django.server"):
        assert logging_config["loggers"][name]["handlers"] == []
        assert logging_config["loggers"][name]["propagate"] is True
    assert logging_config["handlers"]["console"]["filters"] == ["scrub"]
    assert settings.MIDDLEWARE[0] == "bookwell.core.middleware.proxy_headers_from_proxies_only"
