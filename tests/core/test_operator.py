"""Background tasks retry with backoff, fail without quoting data, and land on the operator's
page, where they can be run again; the page is not there for anyone else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bookwell.core import tasks as core_tasks
from bookwell.notifications.tasks import send_delivery
from tests.conftest import signed_in_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _failed_task() -> DBTaskResult:
    result = send_delivery.enqueue("00000000-0000-0000-0000-000000000001", attempt=5)
    row = DBTaskResult.objects.get(pk=result.id)
    row.set_failed(core_tasks.TaskFailed("OperationalError"))
    return row


def test_a_failing_task_runs_again_later_and_its_last_failure_quotes_nothing(monkeypatch):
    secret = "maria@example.test"

    def broken(delivery_id):
        raise ValueError(f"could not reach {secret}")

    monkeypatch.setattr("bookwell.notifications.services.deliver", broken)
    before = timezone.now()

    outcome = send_delivery.call("d-1", attempt=1)

    assert outcome == "retry:ValueError"
    [again] = DBTaskResult.objects.all()
    assert again.args_kwargs == {"args": ["d-1"], "kwargs": {"attempt": 2}}
    assert again.run_after >= before + dt.timedelta(minutes=1)

    with pytest.raises(core_tasks.TaskFailed) as last:
        send_delivery.call("d-1", attempt=core_tasks.MAX_ATTEMPTS)
    assert str(last.value) == "ValueError"
    assert last.value.__cause__ is None and last.value.__suppress_context__
    assert secret not in str(last.value)


def test_a_task_left_running_by_a_dead_worker_is_marked_failed():
    result = send_delivery.enqueue("00000000-0000-0000-0000-000000000002")
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim("dead-worker")
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))

    assert core_tasks.mark_lost_tasks(timezone.now()) == 1

    row.refresh_from_db()
    assert row.status == "FAILED" and row.exception_class_path.endswith("TaskFailed")


def test_operators_see_failed_tasks_and_run_them_again_nobody_else_sees_the_page():
    failed = _failed_task()
    url = reverse("operator-tasks")
    member = signed_in_client(UserFactory())
    assert member.get(url).status_code == 404
    assert member.post(reverse("operator-task-rerun", args=[failed.pk])).status_code == 404
    assert DBTaskResult.objects.filter(pk=failed.pk).exists()

    operator = signed_in_client(UserFactory(is_operator=True))
    page = operator.get(url)
    assert page.status_code == 200
    assert "send_delivery" in page.content.decode() and "TaskFailed" in page.content.decode()

    rerun = operator.post(reverse("operator-task-rerun", args=[failed.pk]))
    assert rerun.status_code == 302
    assert not DBTaskResult.objects.filter(pk=failed.pk).exists()
    [fresh] = DBTaskResult.objects.all()
    assert fresh.status == "READY"
    assert fresh.args_kwargs == {"args": ["00000000-0000-0000-0000-000000000001"], "kwargs": {}}
