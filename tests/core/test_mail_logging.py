"""A mail that could not be sent is logged by its kind and error class: an SMTP refusal's
text names the recipient, and it must not reach the log (P7)."""

from __future__ import annotations

import logging
import smtplib

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from bookwell.core import mail
from bookwell.core.logformat import PlainWithFields


def test_a_refused_address_is_not_logged(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"ada@example.test": (550, b"no such user")})

    monkeypatch.setattr(mail, "send_mail", refuse)
    with caplog.at_level(logging.DEBUG, logger="bookwell.mail"):
        sent = mail.send_now_or_log(kind="invitation", subject="S", body="B", to="ada@example.test")
    assert sent is False
    [record] = caplog.records
    line = PlainWithFields("%(message)s").format(record)
    assert line == "email could not be sent error=SMTPRecipientsRefused email_kind=invitation"
    assert record.exc_info is None  # no traceback: it would carry the address
    assert "ada@example.test" not in caplog.text


def test_nothing_logs_a_traceback_that_could_hold_personal_data():
    """Exceptions' texts and tracebacks can carry addresses and values: code logs the error's
    class as a field instead."""
    from pathlib import Path

    import bookwell

    root = Path(bookwell.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "logger.exception(" in path.read_text() or "exc_info=True" in path.read_text()
    ]
    assert offenders == []


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every recipient, naming them (as SMTP servers do)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused(
            {to: (550, f"<{to}> unknown".encode()) for m in email_messages for to in m.to}
        )


@pytest.mark.django_db
def test_a_password_reset_the_server_refuses_leaves_no_address_in_the_log(settings, caplog):
    from django.test import Client

    from tests.factories import UserFactory

    UserFactory(email="grace@example.test")
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingBackend"}}
    with caplog.at_level(logging.DEBUG):
        response = Client().post("/password/reset/", {"email": "grace@example.test"})
    assert response.status_code == 302  # the same answer as when it is sent
    assert "grace@example.test" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)  # no traceback anywhere
    [record] = [r for r in caplog.records if r.getMessage() == "email could not be sent"]
    assert (record.email_kind, record.error) == ("password_reset", "SMTPRecipientsRefused")
