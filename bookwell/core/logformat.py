"""Log lines without personal data (P7, issue 11).

Two layers, on the app's handler (settings.LOGGING; Django's own loggers are sent to it):

- `Scrubber`, a logging filter: drops attributes with known personal names (email, phone,
  name, ip...) from each record, and masks anything that looks like an email address, a phone
  number or an IP address in the message, its arguments and the error text. It runs before
  the handler formats anything; a handler an operator adds needs it as well.
- The formatters print the time, level, logger, message, the request id of the request or
  worker round the line belongs to, and only the structured fields listed in FIELDS (ids,
  codes, error classes). `JsonLines` writes one JSON object per line (the default);
  `PlainWithFields` a plain line (BOOKWELL_LOG_FORMAT=plain).

The request id comes from `log_context`: the request middleware sets it (the one nginx sent
when it comes through a trusted proxy, else a new one), as does each worker round.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

FIELDS = (
    "job",
    "task",
    "attempt",
    "delivery",
    "code",
    "error",
    "email_kind",
    "sms_key",
    "clinic",
    "export",
    "refund",
    "rows",
    # gunicorn's access lines
    "method",
    "path",
    "status",
    "bytes",
    "duration_ms",
)

# Attribute names that carry personal data wherever they appear (a record's `extra`; a
# LogRecord's own attributes, such as `name`, the logger's, cannot be set through it).
PERSONAL_KEYS = frozenset(
    {
        "email", "phone", "mobile", "full_name", "first_name", "last_name",
        "display_name", "address", "ip", "ip_address", "remote_addr", "user_agent", "body",
        "message_body", "note", "notes", "birth_date", "date_of_birth", "password", "token",
        "user", "client", "recipient", "to",
    }
)  # fmt: skip

_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# Three or more colons between hex groups (times like 17:36:09 have two), or a "::".
_IPV6 = re.compile(
    r"(?<![\w:])(?:(?:[0-9A-Fa-f]{0,4}:){3,7}[0-9A-Fa-f]{0,4}"
    r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?)"
    r"(?![\w:])"
)
_NOT_PERSONAL = frozenset({"127.0.0.1", "0.0.0.0", "::1", "::"})  # noqa: S104 (not binding)
# A run of 8 to 15 digits, with the separators phone numbers are written with; not a date.
_PHONE = re.compile(r"(?<![\w.:/-])\+?\(?\d(?:[\s().-]{0,2}\d){7,14}(?![\w:/-])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

request_id: ContextVar[str] = ContextVar("log_request_id", default="-")


def new_request_id() -> str:
    return secrets.token_hex(8)


@contextmanager
def log_context(rid: str | None = None) -> Iterator[str]:
    """Lines logged inside carry this request id (a new one if none is given)."""
    rid = rid or new_request_id()
    token = request_id.set(rid)
    try:
        yield rid
    finally:
        request_id.reset(token)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE.match(text) or sum(c.isdigit() for c in text) < 8:
        return text
    return "[phone]"


def scrub(text: str) -> str:
    """Masks email addresses, IP addresses and phone numbers in free text."""
    if not text:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _IPV4.sub(_ip, text)  # (first: ::ffff:203.0.113.7 is an IPv4 address)
    text = _IPV6.sub(_ip, text)
    return _PHONE.sub(_phone, text)


def _ip(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if text in _NOT_PERSONAL or text.startswith("127.") else "[ip]"


class Scrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key in PERSONAL_KEYS & record.__dict__.keys():
            delattr(record, key)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: its parts, not the values
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _exception_without_messages(record)
        record.exc_info = None  # (formatted above: the formatter must not add the raw text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name in FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, scrub(value))
        if not getattr(record, "request_id", None):
            # django.request logs a server error after the middleware has returned: its
            # record carries the request, which carries the id.
            from_request = getattr(getattr(record, "request", None), "request_id", None)
            record.request_id = from_request or request_id.get()
        return True


def _exception_without_messages(record: logging.LogRecord) -> str:
    """The traceback's frames, and the exception's class without its message (which can hold
    whatever the failing code had in hand)."""
    lines = (record.exc_text or "").splitlines()
    kept = [line for line in lines if line.startswith(("Traceback", "  ", "During", "The above"))]
    last = lines[-1] if lines else ""
    kept.append(last.split(":", 1)[0] if not last.startswith(" ") else "")
    return scrub("\n".join(line for line in kept if line))


class PlainWithFields(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        rid = getattr(record, "request_id", None)
        if rid and rid != "-":
            fields.insert(0, f"request_id={rid}")
        return f"{text} {' '.join(fields)}" if fields else text


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for name in FIELDS:
            if hasattr(record, name):
                value = getattr(record, name)
                line[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)
