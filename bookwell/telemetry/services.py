"""Counting feature use (P8): one atomic upsert per action, in the action's own transaction
(an action that rolls back is not counted; concurrent counts all land), and the daily roll-up
of old days into months."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from bookwell.core.context import NoActiveClinic, active_clinic_id, platform_scope
from bookwell.core.db.statements import counter_upsert, fetch_batch
from bookwell.telemetry.models import Feature, UsageDay, UsageMonth


def _upsert_sql(
    alias: str, model: type[UsageDay] | type[UsageMonth], period: str, rows: int = 1
) -> str:
    return counter_upsert(alias, model, ("clinic", "feature", period), "count", rows)


def usage_count(
    feature: Feature,
    *,
    clinic_id: int | None = None,
    n: int = 1,
    now: dt.datetime | None = None,
) -> None:
    """Adds `n` uses of a feature to today's (UTC) counter of the clinic (the active one
    unless given). Only the clinic, the feature, the day and the number are written."""
    if n <= 0:
        return
    alias = router.db_for_write(UsageDay)
    fetch_batch(alias, [usage_statement(alias, feature, clinic_id=clinic_id, n=n, now=now)])


def usage_statement(
    alias: str,
    feature: Feature,
    *,
    clinic_id: int | None = None,
    n: int = 1,
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    """usage_count's statement, for callers that send it with their own (one round trip)."""
    return usage_statements(alias, [(feature, n)], clinic_id=clinic_id, now=now)


def usage_statements(
    alias: str,
    uses: list[tuple[Feature, int]],
    *,
    clinic_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    """One statement counting several distinct features (`(feature, n)` each) of a clinic."""
    clinic_id = active_clinic_id() if clinic_id is None else clinic_id
    if clinic_id is None:
        raise NoActiveClinic("usage is counted per clinic")
    if len({feature for feature, _n in uses}) != len(uses) or not uses:
        raise ValueError("one statement counts each feature once")
    day = connections[alias].ops.adapt_datefield_value(
        (now or timezone.now()).astimezone(dt.UTC).date()
    )
    params: list[Any] = []
    for feature, n in uses:
        params += [clinic_id, Feature(feature).value, day, n]
    return _upsert_sql(alias, UsageDay, "day", rows=len(uses)), params


def counts_only_commit(alias: str = "default") -> None:
    """For a transaction whose only writes are counters (an API read that recorded no audit
    event, such as a list; opening a client record is recorded, so it stays durable): its
    commit need not wait for the disk (PostgreSQL's synchronous_commit, for this transaction
    only). A crash can then lose the last moment's counts, never anything else; without it
    every read would wait for a disk flush while holding its counters' row locks, and
    concurrent reads of one clinic would queue behind each other (bench/api_load.py)."""
    connection = connections[alias]
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def daily_window_start(today: dt.date) -> dt.date:
    """The first day still kept per day: the daily window, widened to a whole month so that
    a month is rolled up once, complete."""
    return (today - dt.timedelta(days=settings.TELEMETRY_DAILY_DAYS)).replace(day=1)


def usage_rollup(*, now: dt.datetime | None = None) -> int:
    """Sums the days before the daily window into their months and deletes those days, in one
    transaction (a second run finds nothing to do). Returns the number of day rows folded."""
    keep_from = daily_window_start((now or timezone.now()).astimezone(dt.UTC).date())
    connection = connections[router.db_for_write(UsageMonth)]
    sql = _upsert_sql(connection.alias, UsageMonth, "month")
    with platform_scope("telemetry: roll old days up into months"), transaction.atomic():
        old = UsageDay.objects.filter(day__lt=keep_from)
        sums = (
            old.annotate(month_of=TruncMonth("day"))
            .values("clinic_id", "feature", "month_of")
            .annotate(total=Sum("count"))
            .order_by("clinic_id", "feature", "month_of")
        )
        with connection.cursor() as cursor:
            for row in sums:
                month = row["month_of"]
                month = month.date() if isinstance(month, dt.datetime) else month
                cursor.execute(
                    sql,
                    [
                        row["clinic_id"],
                        row["feature"],
                        connection.ops.adapt_datefield_value(month),
                        row["total"],
                    ],
                )
        folded, _ = old.delete()
    return folded
