"""Plans and their allowances (P9): staff seats, appointments booked per month, text messages
per month, API calls per day, and how long the audit log is kept.

An action that uses an allowance counts itself in with `plan_use` inside its own transaction:
one statement adds to the period's counter row and returns the new total, holding the row's
lock until the transaction ends. A second action of the same clinic waits for the first to
commit or roll back, then sees its total, so concurrent actions cannot together exceed the
allowance; an action refused (or failing later) rolls its count back with everything else.
Periods are UTC months and days. Plans come from settings.PLANS; operators assign them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookwell.core.context import clinic_context
from bookwell.core.db.statements import counter_upsert, fetch_batch
from bookwell.core.errors import ServiceError
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import usage_statements
from bookwell.tenancy.models import Allowance, Clinic, PlanUsage

SEATS_PERIOD = dt.date(2000, 1, 1)  # staff seats are not per period: one fixed lock row


@dataclass(frozen=True)
class PlanTerms:
    code: str
    name: str
    staff_seats: int | None
    bookings_per_month: int | None
    sms_per_month: int | None
    api_calls_per_day: int | None
    audit_retention_days: int

    def limit(self, allowance: Allowance) -> int | None:
        value: int | None = getattr(self, str(allowance.value))
        return value


def plans() -> dict[str, PlanTerms]:
    out = {}
    for code, terms in settings.PLANS.items():
        out[code] = PlanTerms(
            code=code,
            name=str(terms.get("name") or code),
            staff_seats=_limit(terms.get("staff_seats")),
            bookings_per_month=_limit(terms.get("bookings_per_month")),
            sms_per_month=_limit(terms.get("sms_per_month")),
            api_calls_per_day=_limit(terms.get("api_calls_per_day")),
            # Two years unless the plan says otherwise.
            audit_retention_days=int(str(terms.get("audit_retention_days") or 730)),
        )
    return out


def _limit(value: object) -> int | None:
    return None if value is None else max(int(str(value)), 0)


def plan_of(clinic: Clinic) -> PlanTerms:
    """The clinic's plan; a plan no longer configured counts as the default plan."""
    known = plans()
    return known.get(clinic.plan) or known[settings.DEFAULT_PLAN]


def period_of(allowance: Allowance, now: dt.datetime | None = None) -> dt.date:
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    if allowance == Allowance.API_CALLS_PER_DAY:
        return today
    if allowance == Allowance.STAFF_SEATS:
        return SEATS_PERIOD
    return today.replace(day=1)


class PlanLimitReached(ServiceError):
    code = "plan_limit_reached"
    status = 403

    def __init__(self, allowance: Allowance, limit: int, period: dt.date) -> None:
        self.allowance, self.limit, self.period = allowance, limit, period
        if allowance == Allowance.API_CALLS_PER_DAY:
            self.status = 429  # try again tomorrow (UTC)
        super().__init__(limit_message(allowance, limit))

    @property
    def problem_extra(self) -> dict[str, object]:
        extra: dict[str, object] = {"allowance": self.allowance.value, "limit": self.limit}
        if self.allowance == Allowance.API_CALLS_PER_DAY:
            now = timezone.now()
            tomorrow = dt.datetime.combine(
                now.astimezone(dt.UTC).date() + dt.timedelta(days=1), dt.time(), dt.UTC
            )
            extra["retry_after"] = max(int((tomorrow - now).total_seconds()), 1)
        return extra


def limit_message(allowance: Allowance, limit: int) -> str:
    if allowance == Allowance.STAFF_SEATS:
        return ngettext(
            "The clinic's plan includes %(limit)d staff member. Archive one, or ask for a "
            "larger plan, to add another.",
            "The clinic's plan includes %(limit)d staff members. Archive one, or ask for a "
            "larger plan, to add another.",
            limit,
        ) % {"limit": limit}
    if allowance == Allowance.BOOKINGS_PER_MONTH:
        return ngettext(
            "The clinic's plan includes %(limit)d appointment a month, and this month's is "
            "booked. Nothing was booked.",
            "The clinic's plan includes %(limit)d appointments a month, and this month's are "
            "all booked. Nothing was booked.",
            limit,
        ) % {"limit": limit}
    if allowance == Allowance.SMS_PER_MONTH:
        return _("The clinic's plan includes %(limit)d text messages a month.") % {"limit": limit}
    return _("The clinic's plan includes %(limit)d API calls a day (UTC); try again tomorrow.") % {
        "limit": limit
    }


def _use_sql(alias: str, rows: int = 1) -> str:
    return counter_upsert(alias, PlanUsage, ("clinic", "allowance", "period"), "used", rows)


def _seat_lock(clinic: Clinic) -> None:
    """Takes the clinic's seat lock (its fixed counter row, which counts nothing) to the end
    of the transaction."""
    connection = connections[router.db_for_write(PlanUsage)]
    if not connection.in_atomic_block:
        raise RuntimeError("an allowance is counted inside the action's own transaction")
    period = connection.ops.adapt_datefield_value(SEATS_PERIOD)
    statement = (_use_sql(connection.alias), [clinic.pk, Allowance.STAFF_SEATS.value, period, 0])
    with clinic_context(clinic):
        fetch_batch(connection.alias, [statement])


def plan_use(
    clinic: Clinic,
    allowance: Allowance,
    *,
    n: int = 1,
    now: dt.datetime | None = None,
    feature: Feature | None = None,
) -> int | None:
    """Counts `n` uses of a per-period allowance into the clinic's counter for this period,
    or raises PlanLimitReached (the caller's transaction then rolls back, count included).
    With `feature`, the usage count (P8) goes in the same round trip. Returns the new total;
    None (and no plan statement) when the plan sets no limit."""
    used, _ = plan_use_with(clinic, allowance, (), n=n, now=now, feature=feature)
    return used


@dataclass
class PendingUse:
    """A use an action counts at its end, unless a write of its takes it along first (an API
    call's count in the round trip of the booking it makes: plan_use_with's `also`)."""

    allowance: Allowance
    feature: Feature | None = None
    n: int = 1
    counted: bool = False


def plan_use_with(
    clinic: Clinic,
    allowance: Allowance,
    statements: Sequence[tuple[str, list[Any]]],
    *,
    n: int = 1,
    now: dt.datetime | None = None,
    feature: Feature | None = None,
    also: Sequence[PendingUse] = (),
) -> tuple[int | None, list[list[tuple[Any, ...]]]]:
    """plan_use, with the caller's own statements first in the same round trip (a booking's
    INSERT and the reads it needs next: one round trip for all of them), and the uses in
    `also` counted in it too (each marked counted once it is within its allowance). Returns
    the total (None when the plan sets no limit) and the rows of those statements.

    Only an action whose failure rolls back the whole transaction may pass `also`: a use
    counted here and then undone by a rolled-back savepoint would stay marked counted."""
    if allowance == Allowance.STAFF_SEATS or any(
        u.allowance == Allowance.STAFF_SEATS for u in also
    ):
        raise ValueError("staff seats are checked with plan_check_seats")
    alias = router.db_for_write(PlanUsage)
    connection = connections[alias]
    terms = plan_of(clinic)
    first = PendingUse(allowance, feature, n)
    uses = [first, *also]
    if len({u.allowance for u in uses}) != len(uses):
        raise ValueError("each allowance is counted once per statement")
    # Every counter in one statement, the action's own first and the uses it takes along
    # after it (the order their rows are locked in: an API call's own count comes last, as
    # in a call that counts it at its end), then the usage counts in another.
    limited = [(use, limit) for use in uses if (limit := terms.limit(use.allowance)) is not None]
    batch = list(statements)
    if limited:
        if not connection.in_atomic_block:
            raise RuntimeError("an allowance is counted inside the action's own transaction")
        params: list[Any] = []
        for use, _limit in limited:
            period = connection.ops.adapt_datefield_value(period_of(use.allowance, now))
            params += [clinic.pk, use.allowance.value, period, use.n]
        batch.append((_use_sql(alias, len(limited)), params))
    features = [(u.feature, u.n) for u in uses if u.feature is not None]
    if features:
        batch.append(usage_statements(alias, features, clinic_id=clinic.pk, now=now))
    rows: list[list[tuple[Any, ...]]] = []
    if batch:
        with clinic_context(clinic):
            rows = fetch_batch(alias, batch)
    totals: dict[str, int] = {}
    if limited:
        counted = rows[len(statements)]
        if len(limited) == 1:
            totals[limited[0][0].allowance.value] = int(counted[0][0])
        else:  # (clinic, allowance, period, used) per row
            totals = {str(row[1]): int(row[3]) for row in counted}
    for use, limit in limited:
        if totals[use.allowance.value] > limit:
            raise PlanLimitReached(use.allowance, limit, period_of(use.allowance, now))
    for use in also:
        use.counted = True
    return totals.get(allowance.value), rows[: len(statements)]


def plan_release(
    clinic: Clinic, allowance: Allowance, *, n: int = 1, now: dt.datetime | None = None
) -> None:
    """Gives back uses counted for something that did not happen after all (a text message
    the provider did not take), in its own transaction."""
    with transaction.atomic(), clinic_context(clinic):
        PlanUsage.objects.filter(
            allowance=allowance.value, period=period_of(allowance, now), used__gte=n
        ).update(used=F("used") - n)


def plan_check_seats(clinic: Clinic, *, adding: int = 1) -> None:
    """Before a staff member is added (or brought back): refuses when the active ones would
    exceed the plan's seats. Holds the clinic's seat lock to the end of the transaction, so
    two additions at once cannot both take the last seat."""
    limit = plan_of(clinic).staff_seats
    if limit is None:
        return
    from bookwell.scheduling.models import StaffMember

    _seat_lock(clinic)
    with clinic_context(clinic):
        active = StaffMember.objects.filter(archived=False).count()
    if active + adding > limit:
        raise PlanLimitReached(Allowance.STAFF_SEATS, limit, SEATS_PERIOD)


@dataclass(frozen=True)
class UsageLine:
    allowance: Allowance
    used: int
    limit: int | None
    period: dt.date

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))


def plan_usage(clinic: Clinic, *, now: dt.datetime | None = None) -> list[UsageLine]:
    """What the clinic has used of each allowance in the current periods (the usage page)."""
    from bookwell.scheduling.models import StaffMember

    terms = plan_of(clinic)
    lines = []
    with clinic_context(clinic):
        counted = {
            (row.allowance, row.period): row.used
            for row in PlanUsage.objects.filter(period__in={period_of(a, now) for a in Allowance})
        }
        seats = StaffMember.objects.filter(archived=False).count()
    for allowance in Allowance:
        period = period_of(allowance, now)
        used = (
            seats
            if allowance == Allowance.STAFF_SEATS
            else counted.get((allowance.value, period), 0)
        )
        lines.append(UsageLine(allowance, used, terms.limit(allowance), period))
    return lines


def clinic_plan_change(*, clinic: Clinic, plan: str) -> Clinic:
    """An operator moves a clinic to another plan (recorded in the clinic's audit log)."""
    if plan not in plans():
        raise ServiceError(_("Choose one of the plans."), code="unknown_plan")
    from bookwell.audit.models import Action
    from bookwell.audit.services import audit

    with transaction.atomic():
        Clinic.objects.filter(pk=clinic.pk).update(plan=plan)
        clinic.plan = plan
        audit(Action.PLAN_CHANGED, clinic_id=clinic.pk, extra={"plan": plan})
    return clinic
