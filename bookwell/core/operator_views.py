"""Operator pages: the installation's background work, never a clinic's data.

Failed tasks show their task, times, id arguments and the class of the error (tasks take ids
only, and fail without messages: core.tasks). Undelivered messages are counted per clinic.
Anyone who is not an operator gets 404, as if the pages did not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tasks_db.models import DBTaskResult

from bookwell.core.context import platform_scope
from bookwell.core.tasks import task_retry
from bookwell.notifications.models import Delivery, DeliveryStatus


def operator_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(request.user, "is_operator", False):
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


@operator_view
@require_GET
def tasks(request: HttpRequest) -> HttpResponse:
    failed = list(DBTaskResult.objects.filter(status="FAILED").order_by("-finished_at")[:200])
    with platform_scope("operator: undelivered messages counted per clinic"):
        undelivered = list(
            Delivery.objects.filter(status=DeliveryStatus.FAILED)
            .values("clinic__name", "clinic__slug")
            .annotate(n=Count("pk"))
            .order_by("-n")[:50]
        )
    return render(
        request,
        "core/operator_tasks.html",
        {
            "failed": [
                (
                    r,
                    r.task_path.rsplit(".", 1)[-1],
                    r.exception_class_path.rsplit(".", 1)[-1],
                    r.args_kwargs.get("args", []),
                )
                for r in failed
            ],
            "undelivered": undelivered,
        },
    )


@operator_view
@require_POST
def task_rerun(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    result = DBTaskResult.objects.filter(pk=task_id, status="FAILED").first()
    if result is None:
        raise Http404("No such failed task")
    task_retry(result=result)
    messages.success(request, _("The task will run again."))
    return redirect("operator-tasks")
