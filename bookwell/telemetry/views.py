"""The operator's usage page (P8): counts across clinics, drawn as small bar charts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from bookwell.core.operator_views import operator_view
from bookwell.telemetry.models import Feature
from bookwell.telemetry.selectors import usage_overview

CHART_W, CHART_H = 300, 48


@operator_view
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    overview = usage_overview(today=timezone.now().date())
    charts = []
    for line in overview.series:
        width = CHART_W / len(line.days)
        bars = []
        for i, (day, n) in enumerate(line.days):
            height = round(CHART_H * n / line.peak, 2) if line.peak else 0
            bars.append(
                {
                    "x": round(i * width, 2),
                    "y": round(CHART_H - height, 2),
                    "w": round(max(width - 1, 1), 2),
                    "h": height,
                    "day": day,
                    "n": n,
                }
            )
        charts.append({"series": line, "bars": bars})
    features = list(Feature)
    return render(
        request,
        "telemetry/usage.html",
        {
            "overview": overview,
            "charts": charts,
            "features": features,
            "clinic_rows": [
                (name, [counts.get(f.value, 0) for f in features])
                for name, _slug, counts in overview.clinics
            ],
            "month_rows": [
                (month, [counts.get(f.value, 0) for f in features])
                for month, counts in overview.months
            ],
            "chart_w": CHART_W,
            "chart_h": CHART_H,
        },
    )
