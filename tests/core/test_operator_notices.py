"""Operator notices by email (issue 11): failed tasks and jobs, and one actor refused again and
again, in the period that just ended; once per period across workers; nothing about people."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from bookwell.core import periodic
from bookwell.core.models import PeriodicRun
from bookwell.core.operator_notices import JOB, operator_notices_send
from bookwell.tenancy.permissions import Role
from tests.conftest import signed_in_client
from tests.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db

PERIOD = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)  # a period of 15 minutes starts here
INSIDE = PERIOD + dt.timedelta(minutes=7)
NEXT = PERIOD + dt.timedelta(minutes=15, seconds=20)  # the job's run, just after it ended


def _failed_task(at: dt.datetime) -> None:
    from django_tasks_db.models import DBTaskResult

    from bookwell.privacy.tasks import build_clinic_export

    build_clinic_export.enqueue("00000000-0000-0000-0000-000000000001")
    DBTaskResult.objects.update(status="FAILED", finished_at=at)


def _refused(clinic, times: int, *, email: str) -> int:
    practitioner = make_member(clinic, Role.PRACTITIONER, email=email)
    browser = signed_in_client(practitioner)
    for _ in range(times):
        assert browser.get(f"/c/{clinic.slug}/payments/").status_code in (403, 404)
    return practitioner.pk


def test_a_notice_names_failed_work_and_the_actor_refused_again_and_again(clinic_a):
    UserFactory(email="ops@example.test", is_operator=True)
    with time_machine.travel(INSIDE, tick=False):
        _failed_task(timezone.now())
        PeriodicRun.objects.create(job="payments.holds", period_start=PERIOD, worker="w:1")
        prober = _refused(clinic_a, 20, email="prober@example.test")
        _refused(clinic_a, 3, email="curious@example.test")  # a few: no notice
    with time_machine.travel(NEXT, tick=False):
        assert periodic.run_due(worker="w:1") and periodic.run_due(worker="w:2") == []
    [notice] = mail.outbox  # one, however many workers
    assert notice.to == ["ops@example.test"]
    assert notice.subject == "Bookwell: 1 failed tasks, 1 failed jobs, 1 actors refused repeatedly"
    assert "build_clinic_export: 1" in notice.body and "payments.holds: 1" in notice.body
    assert f"user {prober} from 127.0.0.0/24: 20" in notice.body
    for personal in ("prober@", "curious@", "127.0.0.1 ", clinic_a.name):
        assert personal not in notice.body


def test_the_next_period_does_not_repeat_it_and_a_quiet_period_sends_nothing(clinic_a):
    UserFactory(email="ops@example.test", is_operator=True)
    with time_machine.travel(INSIDE, tick=False):
        _failed_task(timezone.now())
    assert operator_notices_send(NEXT) == 1
    assert operator_notices_send(NEXT + dt.timedelta(minutes=15)) == 0
    assert len(mail.outbox) == 1


@override_settings(OPERATOR_ALERT_EMAILS=["pager@example.test", "oncall@example.test"])
def test_configured_addresses_come_before_operator_accounts():
    UserFactory(email="ops@example.test", is_operator=True)
    with time_machine.travel(INSIDE, tick=False):
        _failed_task(timezone.now())
    assert operator_notices_send(NEXT) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["oncall@example.test", "pager@example.test"]


def test_without_anyone_to_tell_it_says_so_in_the_log(caplog):
    with time_machine.travel(INSIDE, tick=False):
        _failed_task(timezone.now())
    with caplog.at_level(logging.WARNING, logger="bookwell.worker"):
        assert operator_notices_send(NEXT) == 0
    assert [r.getMessage() for r in caplog.records] == ["operator notice not sent: no recipient"]
    assert mail.outbox == []


def test_the_job_is_registered_every_fifteen_minutes():
    [job] = [j for j in periodic.jobs() if j.name == JOB]
    assert job.every == dt.timedelta(minutes=15)
