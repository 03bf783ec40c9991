"""`bookwell worker` keeps working when a round fails, and logs the error's class only; the
log line carries the structured fields (job, delivery, error class), nothing else."""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import call_command

from bookwell.core.logformat import PlainWithFields

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_round_is_logged_by_class_and_the_worker_goes_on(monkeypatch, caplog):
    from bookwell.core.management.commands import worker

    rounds = []

    def dispatch(limit: int) -> dict[str, int]:
        rounds.append(limit)
        raise ConnectionError("could not reach db for ada@example.test")

    monkeypatch.setattr(worker, "dispatch_due", dispatch)
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="bookwell.worker"):
        call_command("worker", "--once", stdout=out)  # returns: the failure did not escape
    assert rounds == [50]
    assert "Bookwell worker stopped" in out.getvalue()
    [record] = [r for r in caplog.records if r.getMessage() == "worker round failed"]
    assert record.error == "ConnectionError"
    assert "ada@example.test" not in caplog.text and "could not reach" not in caplog.text
    line = PlainWithFields("%(levelname)s %(message)s").format(record)
    # The round's request id (each round has its own), then the structured fields.
    assert re.fullmatch(
        r"ERROR worker round failed request_id=[0-9a-f]{16} error=ConnectionError", line
    )


def test_the_log_line_shows_the_listed_fields_and_nothing_else():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "delivery failed", None, None)
    record.delivery, record.code = "0f0e", "email:SMTPServerDisconnected"
    record.email = "ada@example.test"  # not a listed field: never printed
    line = PlainWithFields("%(message)s").format(record)
    assert line == "delivery failed delivery=0f0e code=email:SMTPServerDisconnected"
