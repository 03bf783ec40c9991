"""Whatever goes wrong while sending, a delivery ends as sent, skipped or failed and the
worker goes on: unexpected errors, workers that die on every try, refused recipients, slow
batches (leases), a provider through django-anymail."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications import channels, services
from bookwell.notifications.models import Delivery, DeliveryStatus
from bookwell.settings import anymail_mailer
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)


def _book(clinic, setup, hour: int, email: str = "ada@example.test"):
    with clinic_context(clinic):
        client = client_create(
            clinic=clinic, data=ClientInput(full_name=f"Client {hour}", email=email)
        )
        return appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 3, 25, hour, 0, tzinfo=BERLIN),
                client=client,
            ),
        )


def _all() -> list[Delivery]:
    with platform_scope("test: every delivery"):
        return list(Delivery.objects.order_by("created_at"))


@pytest.fixture
def setup(clinic_a, clock):
    return schedule(clinic_a)


@pytest.fixture
def sender(monkeypatch):
    """Replaces the email channel; `sender.behaviour` decides what each send does."""

    class Sender:
        behaviour = staticmethod(lambda message: message.message_id)

    def send(message):
        return Sender.behaviour(message)

    monkeypatch.setattr(channels, "send_email", send)
    return Sender


def test_an_unexpected_error_is_recorded_retried_and_failed_and_the_worker_goes_on(
    clinic_a, setup, clock, settings, sender, caplog
):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    _book(clinic_a, setup, 10)

    def explode(message):
        raise RuntimeError(f"bug while sending to {message.to}")

    sender.behaviour = staticmethod(explode)
    with caplog.at_level(logging.DEBUG):
        assert services.dispatch_due() == {"retry": 1}  # no exception reaches the worker
        clock.shift(dt.timedelta(minutes=1))
        assert services.dispatch_due() == {"failed": 1}
    [delivery] = _all()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert delivery.error_code == "error:RuntimeError"  # the class, never the message
    assert "ada@example.test" not in caplog.text and "bug while sending" not in caplog.text


def test_a_delivery_whose_workers_all_died_ends_failed(clinic_a, setup, clock, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    _book(clinic_a, setup, 10)
    [delivery] = _all()
    for _ in range(2):  # a worker takes it and dies mid-send, twice
        assert services._claim(delivery.pk, timezone.now())
        clock.shift(dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))
    assert not services._claim(delivery.pk, timezone.now())  # no third try

    assert services.dispatch_due() == {}
    assert _all()[0].status == DeliveryStatus.SENDING  # a slow last try may still report
    clock.shift(dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS))
    assert services.dispatch_due() == {}
    [lost] = _all()
    assert (lost.status, lost.error_code) == (DeliveryStatus.FAILED, "attempts:exhausted")


@pytest.mark.parametrize(("code", "outcome"), [(550, "failed"), (450, "retry")])
def test_a_refused_recipient_fails_at_once_only_when_the_refusal_is_final(
    clinic_a, setup, sender, code, outcome
):
    _book(clinic_a, setup, 10)

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused({message.to: (code, b"mailbox unavailable")})

    # The real channel's translation of the error, around a refusing mailer.
    class Refusing:
        def send_messages(self, messages):
            refuse(channels.Email(to="x@example.test", subject="", text="", message_id="<1>"))

        def close(self):
            pass

    sender.behaviour = staticmethod(lambda message: _real_send(message, Refusing()))
    assert services.dispatch_due() == {outcome: 1}
    [delivery] = _all()
    assert delivery.error_code == "email:SMTPRecipientsRefused"


def _real_send(message, mailer):
    from unittest import mock

    with mock.patch.object(channels, "mailers", mock.Mock(default=mailer)):
        return _ORIGINAL_SEND(message)


_ORIGINAL_SEND = channels.send_email


def test_each_delivery_of_a_slow_batch_gets_a_lease_from_its_own_start(
    clinic_a, setup, clock, settings, sender
):
    for hour in (9, 10, 11):
        _book(clinic_a, setup, hour, email=f"c{hour}@example.test")
    leases = []

    def slow(message):
        with platform_scope("test: the lease of the delivery being sent"):
            held = Delivery.objects.get(status=DeliveryStatus.SENDING)
        leases.append(held.lease_until - timezone.now())
        clock.shift(dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS * 0.8))  # slow server
        return message.message_id

    sender.behaviour = staticmethod(slow)
    assert services.dispatch_due() == {"sent": 3}
    # Had the batch's start time been used, the third lease would have run out before it
    # was sent (another worker could have sent it too).
    assert all(lease >= dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS - 1) for lease in leases)


def test_email_through_a_provider_by_setting(clinic_a, setup, settings):
    options = anymail_mailer(
        "postmark", {"BOOKWELL_ANYMAIL_SERVER_TOKEN": "pm-token", "OTHER": "ignored"}
    )
    assert options == {
        "BACKEND": "anymail.backends.postmark.EmailBackend",
        "OPTIONS": {"server_token": "pm-token"},
    }
    for junk in ("no_such_provider", "../evil", "test", ""):
        with pytest.raises(ImproperlyConfigured):
            anymail_mailer(junk, {})

    # Sending through anymail (its test backend stands in for the provider's API).
    from django.core import mail

    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
    _book(clinic_a, setup, 10)
    assert services.dispatch_due() == {"sent": 1}
    [message] = mail.outbox
    assert message.to == ["ada@example.test"]
    assert message.anymail_status.status == {"sent"}  # it went through anymail
    [delivery] = _all()
    assert delivery.status == DeliveryStatus.SENT
    # The provider's own id is what is kept (anymail's test backend numbers its messages).
    assert delivery.provider_message_id == str(message.anymail_status.message_id)
    assert not delivery.provider_message_id.endswith("@bookwell>")


def test_pending_rows_beyond_a_lowered_attempt_limit_end_failed(clinic_a, setup, settings):
    _book(clinic_a, setup, 10)
    _book(clinic_a, setup, 11, email="b@example.test")
    with platform_scope("test: rows tried four times under an older, higher limit"):
        first = Delivery.objects.order_by("created_at").first()
        assert first is not None
        Delivery.objects.filter(pk=first.pk).update(attempts=4)
    settings.NOTIFY_MAX_ATTEMPTS = 3
    assert services.dispatch_due() == {"sent": 1}  # the other one is not held up
    assert {(d.status, d.error_code) for d in _all()} == {
        (DeliveryStatus.FAILED, "attempts:exhausted"),
        (DeliveryStatus.SENT, ""),
    }


def test_a_worker_that_lost_its_lease_does_not_overwrite_the_new_holders_outcome(
    clinic_a, setup, clock, settings, sender
):
    _book(clinic_a, setup, 10)

    def slow_then_refused(message):
        # While this worker waits on a hung server, its lease runs out and another worker
        # sends the message.
        clock.shift(dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))
        sender.behaviour = staticmethod(lambda m: m.message_id)
        assert services.dispatch_due() == {"sent": 1}
        raise channels.SendError("email:SMTPServerDisconnected")

    sender.behaviour = staticmethod(slow_then_refused)
    assert services.dispatch_due() == {"retry": 1}  # the first worker's view of it
    [delivery] = _all()
    assert delivery.status == DeliveryStatus.SENT  # the second worker's outcome stands
    assert services.dispatch_due() == {}  # and nothing is sent a third time


def test_a_recipient_refused_by_a_provider_fails_at_once(clinic_a, setup, sender):
    from anymail.exceptions import AnymailRecipientsRefused

    _book(clinic_a, setup, 10)

    class Refusing:
        def send_messages(self, messages):
            raise AnymailRecipientsRefused()

        def close(self):
            pass

    sender.behaviour = staticmethod(lambda message: _real_send(message, Refusing()))
    assert services.dispatch_due() == {"failed": 1}
    [delivery] = _all()
    assert delivery.error_code == "email:AnymailRecipientsRefused"


def test_a_mail_server_that_never_answers_times_out(clinic_a, setup, settings, sender):
    import socket
    import threading

    from django.core.mail import mailers

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": listener.getsockname()[1], "timeout": 1},
        }
    }
    assert settings.MAILERS["default"]["OPTIONS"]["timeout"] == 1
    _book(clinic_a, setup, 10)
    sender.behaviour = staticmethod(lambda message: _ORIGINAL_SEND(message))
    try:
        assert services.dispatch_due() == {"retry": 1}  # within the timeout, not for ever
    finally:
        mailers.default.close()
        for conn in held:
            conn.close()
        listener.close()
    [delivery] = _all()
    assert delivery.error_code.startswith("email:")


def test_smtp_and_anymail_come_from_the_environment():
    """The settings module, loaded as a deployment would load it."""
    import json
    import os
    import subprocess
    import sys

    def mailer(**env: str) -> dict:
        code = "import json, bookwell.settings as s; print(json.dumps(s.MAILERS['default']))"
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    smtp = mailer(BOOKWELL_EMAIL_BACKEND="smtp", BOOKWELL_EMAIL_HOST="mail.example.test")
    assert smtp["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert smtp["OPTIONS"]["host"] == "mail.example.test"
    assert 0 < smtp["OPTIONS"]["timeout"] <= 60  # never waits for ever on a hung server
    provider = mailer(BOOKWELL_EMAIL_BACKEND="anymail:sendgrid", BOOKWELL_ANYMAIL_API_KEY="sg-key")
    assert provider == {
        "BACKEND": "anymail.backends.sendgrid.EmailBackend",
        "OPTIONS": {"api_key": "sg-key"},
    }


def test_a_slow_last_try_still_records_that_it_sent(clinic_a, setup, clock, settings, sender):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    _book(clinic_a, setup, 10)

    def slow(message):
        clock.shift(dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))  # past its lease
        assert services.dispatch_due() == {}  # another worker neither sends nor fails it
        return message.message_id

    sender.behaviour = staticmethod(slow)
    assert services.dispatch_due() == {"sent": 1}
    [delivery] = _all()
    assert delivery.status == DeliveryStatus.SENT
