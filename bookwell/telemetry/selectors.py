"""What the operator sees of usage: totals across clinics, per feature and day or month."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Sum

from bookwell.core.context import platform_scope
from bookwell.telemetry.models import Feature, UsageDay, UsageMonth
from bookwell.tenancy.models import Clinic


@dataclass
class FeatureSeries:
    feature: Feature
    days: list[tuple[dt.date, int]]  # oldest first, every day of the range (zeros included)
    total: int = 0
    peak: int = 0


@dataclass
class UsageOverview:
    first: dt.date
    last: dt.date
    series: list[FeatureSeries]
    # (clinic name, slug, {feature: this month's count}) for the busiest clinics
    clinics: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)
    months: list[tuple[dt.date, dict[str, int]]] = field(default_factory=list)


def usage_overview(*, today: dt.date, days: int = 30, top: int = 50) -> UsageOverview:
    """Daily totals across clinics for the last `days` days, this month's count per clinic
    (the `top` busiest by bookings), and the monthly totals kept after the roll-up."""
    first = today - dt.timedelta(days=days - 1)
    month_start = today.replace(day=1)
    with platform_scope("operator: usage counted across clinics"):
        per_day: dict[str, dict[dt.date, int]] = defaultdict(dict)
        for row in (
            UsageDay.objects.filter(day__gte=first, day__lte=today)
            .values("feature", "day")
            .annotate(total=Sum("count"))
        ):
            per_day[row["feature"]][row["day"]] = row["total"]
        per_clinic: dict[int, dict[str, int]] = defaultdict(dict)
        for row in (
            UsageDay.objects.filter(day__gte=month_start, day__lte=today)
            .values("clinic_id", "feature")
            .annotate(total=Sum("count"))
        ):
            per_clinic[row["clinic_id"]][row["feature"]] = row["total"]
        names = dict(
            (pk, (name, slug))
            for pk, name, slug in Clinic.objects.filter(pk__in=per_clinic).values_list(
                "pk", "name", "slug"
            )
        )
        per_month: dict[dt.date, dict[str, int]] = defaultdict(dict)
        for row in UsageMonth.objects.values("month", "feature").annotate(total=Sum("count")):
            per_month[row["month"]][row["feature"]] = row["total"]
    series = []
    for feature in Feature:
        counts = per_day.get(feature.value, {})
        line = [(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0))
                for i in range(days)]  # fmt: skip
        values = [n for _, n in line]
        series.append(FeatureSeries(feature, line, sum(values), max(values)))
    busiest = sorted(
        per_clinic.items(),
        key=lambda item: (-item[1].get(Feature.BOOKING_CREATED.value, 0), item[0]),
    )[:top]
    return UsageOverview(
        first=first,
        last=today,
        series=series,
        clinics=[(*names.get(pk, ("?", "")), counts) for pk, counts in busiest],
        months=sorted(per_month.items(), reverse=True)[:24],
    )
