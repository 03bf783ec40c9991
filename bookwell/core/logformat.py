"""The log line: time, level, logger, message, then the structured fields code passes as
`extra` (ids, codes, error classes). Those are the only fields printed: they are chosen to
carry no personal data (P7); anything else a record holds is not written."""

from __future__ import annotations

import logging

FIELDS = ("job", "task", "attempt", "delivery", "code", "error", "email_kind", "sms_key")


class PlainWithFields(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        return f"{text} {' '.join(fields)}" if fields else text
