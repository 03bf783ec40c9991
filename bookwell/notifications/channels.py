"""Where messages leave Bookwell. Each provider gets the recipient and the message, nothing
else about the client (P13).

Email goes through Django's mail backends (SMTP, a file in development, any provider through
django-anymail: BOOKWELL_EMAIL_BACKEND=anymail:<provider>). SMS goes through a small provider
interface: Twilio, or the console provider in development (which logs that it sent, never
the number or the text).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.utils.html import escape, linebreaks

logger = logging.getLogger("bookwell.notifications")


SEND_TIMEOUT = 30  # seconds: well inside the delivery lease (NOTIFY_LEASE_SECONDS)


class SendError(Exception):
    """A provider refused or failed; `code` is what is recorded (never the message or address)."""

    def __init__(self, code: str, *, permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    message_id: str  # stable per delivery: a resend after a crash carries the same id
    ics: str = ""
    ics_method: str = ""
    reply_to: list[str] = field(default_factory=list)


def send_email(message: Email) -> str:
    """Sends one email (text and HTML parts, the invitation attached); returns its id."""
    mail = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        to=[message.to],
        reply_to=message.reply_to or None,
        headers={"Message-ID": message.message_id},
    )
    mail.attach_alternative(linebreaks(escape(message.text)), "text/html")
    if message.ics:
        mail.attach(
            "appointment.ics",
            message.ics,
            f"text/calendar; method={message.ics_method}; charset=utf-8",
        )
    mailer = mailers.default
    try:
        sent = mailer.send_messages([mail])
    except Exception as exc:  # SMTP down, refused, a provider API error...
        mailer.close()  # the next message opens a fresh connection
        raise SendError(f"email:{type(exc).__name__}", permanent=_refused(exc)) from None
    if not sent:
        raise SendError("email:not_sent")
    # A provider through django-anymail reports its own id (kept to trace the message with
    # the provider); SMTP has only ours.
    status = getattr(mail, "anymail_status", None)
    provider_id = getattr(status, "message_id", None) if status is not None else None
    return message.message_id if provider_id in (None, "") else str(provider_id)


def _refused(exc: Exception) -> bool:
    """Whether the recipient was refused for good (trying again cannot help)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return type(exc).__name__ == "AnymailRecipientsRefused"


@contextmanager
def email_session() -> Iterator[None]:
    """One mail server connection for a batch of messages, not one per message."""
    mailer = mailers.default
    with suppress(OSError):  # each send then reports the failure on its own delivery
        mailer.open()
    try:
        yield
    finally:
        mailer.close()


class SmsProvider(Protocol):
    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        """Sends one SMS to an E.164 number; returns the provider's message id."""
        ...


class ConsoleSms:
    """Development: pretends to send, and logs only that it did."""

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        logger.info("sms sent (console provider)", extra={"sms_key": idempotency_key})
        return f"console-{idempotency_key}"


class TwilioSms:
    """Twilio's Messages API: the number, the sender and the text, nothing more (P13)."""

    def __init__(self, *, account_sid: str, auth_token: str, sender: str, client: object = None):
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            # A hung request must not outlast the worker's lease on the delivery.
            client = Client(
                account_sid, auth_token, http_client=TwilioHttpClient(timeout=SEND_TIMEOUT)
            )
        self.client = client
        self.sender = sender

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(  # type: ignore[attr-defined]
                to=to, from_=self.sender, body=text
            )
        except TwilioRestException as exc:
            # 4xx: this message will never go (bad number, blocked); 5xx/429: try again later.
            permanent = 400 <= int(exc.status or 500) < 500 and exc.status != 429
            raise SendError(f"sms:twilio:{exc.code or exc.status}", permanent=permanent) from None
        except (TwilioException, OSError) as exc:
            raise SendError(f"sms:twilio:{type(exc).__name__}") from None
        return str(message.sid)


def sms_provider() -> SmsProvider:
    if settings.SMS_PROVIDER == "twilio":
        return TwilioSms(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            sender=settings.TWILIO_FROM,
        )
    return ConsoleSms()
