"""Operator notices by email (issue 11): background work that failed, and one actor refused
again and again, in the last period. Sent to BOOKWELL_OPERATOR_ALERT_EMAILS, or else to the
installation's operator accounts.

What a notice says: task names, job names and counts; for denials the actor's kind and
internal id (a user's or a token's number, never a name or an address) and the masked network
the audit log keeps (P6). Nothing of any clinic's clients.

Run by the worker's periodic job `operator.notices`, once per period across workers; each
run looks at the period just ended.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from bookwell.core.context import platform_scope
from bookwell.core.mail import send_now_or_log
from bookwell.core.models import PeriodicRun

logger = logging.getLogger("bookwell.worker")

EVERY = dt.timedelta(minutes=15)
JOB = "operator.notices"


@dataclass
class Findings:
    failed_tasks: Counter[str] = field(default_factory=Counter)
    failed_jobs: Counter[str] = field(default_factory=Counter)
    denials: list[tuple[str, str, str, int]] = field(default_factory=list)  # kind, id, net, n

    def __bool__(self) -> bool:
        return bool(self.failed_tasks or self.failed_jobs or self.denials)


def findings(*, since: dt.datetime, until: dt.datetime) -> Findings:
    from bookwell.audit.models import AuditEvent, Outcome

    found = Findings()
    for path in DBTaskResult.objects.filter(
        status="FAILED", finished_at__gte=since, finished_at__lt=until
    ).values_list("task_path", flat=True):
        found.failed_tasks[path.rsplit(".", 1)[-1]] += 1
    # A job whose run had not finished five minutes after it started: it raised (the worker
    # logged its class) or its worker died; the next period runs it again. (The windows are
    # shifted by those five minutes and tile: each run is looked at once.)
    grace = dt.timedelta(minutes=5)
    for job in (
        PeriodicRun.objects.filter(
            started_at__gte=since - grace, started_at__lt=until - grace, finished_at__isnull=True
        )
        .exclude(job=JOB)
        .values_list("job", flat=True)
    ):
        found.failed_jobs[job] += 1
    with platform_scope("operator notices: denials per actor, across clinics"):
        rows = (
            AuditEvent.objects.filter(outcome=Outcome.DENIED, at__gte=since, at__lt=until)
            .values("actor_kind", "actor_id", "ip_network")
            .annotate(n=Count("id"))
            .filter(n__gte=settings.OPERATOR_DENIALS_PER_ACTOR)
            .order_by("-n")
        )
        found.denials = [
            (r["actor_kind"], r["actor_id"] or "-", r["ip_network"] or "-", r["n"]) for r in rows
        ]
    return found


def recipients() -> list[str]:
    if settings.OPERATOR_ALERT_EMAILS:
        return list(settings.OPERATOR_ALERT_EMAILS)
    from bookwell.accounts.models import User

    return list(
        User.objects.filter(is_operator=True, is_active=True)
        .order_by("pk")
        .values_list("email", flat=True)
    )


def _body(found: Findings, since: dt.datetime, until: dt.datetime) -> str:
    lines = [
        f"Bookwell: what needs a look between {since:%Y-%m-%d %H:%M} and {until:%H:%M} UTC.",
        "",
    ]
    if found.failed_tasks:
        lines.append("Background tasks that failed (run them again on /operator/tasks/):")
        lines += [f"  {name}: {n}" for name, n in sorted(found.failed_tasks.items())]
        lines.append("")
    if found.failed_jobs:
        lines.append("Periodic jobs that did not finish (they run again next period):")
        lines += [f"  {name}: {n}" for name, n in sorted(found.failed_jobs.items())]
        lines.append("")
    if found.denials:
        lines.append(
            f"Actors refused {settings.OPERATOR_DENIALS_PER_ACTOR} times or more "
            "(the audit log has each event):"
        )
        lines += [f"  {kind} {ident} from {net}: {n}" for kind, ident, net, n in found.denials]
        lines.append("")
    lines.append("The JSON logs have the details, by request id and error class.")
    return "\n".join(lines)


def operator_notices_send(now: dt.datetime) -> int:
    """The periodic job: looks at the period that just ended; returns the emails sent."""
    from bookwell.core.periodic import period_start

    until = period_start(now, EVERY)
    since = until - EVERY
    found = findings(since=since, until=until)
    if not found:
        return 0
    to = recipients()
    if not to:
        logger.warning("operator notice not sent: no recipient", extra={"job": JOB})
        return 0
    subject = "Bookwell: " + ", ".join(
        part
        for part in (
            f"{sum(found.failed_tasks.values())} failed tasks" if found.failed_tasks else "",
            f"{sum(found.failed_jobs.values())} failed jobs" if found.failed_jobs else "",
            f"{len(found.denials)} actors refused repeatedly" if found.denials else "",
        )
        if part
    )
    body = _body(found, since, until)
    return sum(
        send_now_or_log(kind="operator_notice", subject=subject, body=body, to=address)
        for address in to
    )
