"""Sending email from a request without letting a mail outage turn into an error page."""

from __future__ import annotations

import logging

from django.core.mail import send_mail

logger = logging.getLogger("bookwell.mail")


def send_now_or_log(*, kind: str, subject: str, body: str, to: str) -> bool:
    """Sends one message; on failure logs the kind only (never the address or text, P7)."""
    try:
        send_mail(subject, body, None, [to])
    except Exception as exc:  # any backend error: SMTP down, bad header, ...
        # The class only: an SMTP refusal's text names the address (no traceback either).
        logger.error(
            "email could not be sent", extra={"email_kind": kind, "error": type(exc).__name__}
        )
        return False
    return True
