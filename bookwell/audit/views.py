"""The clinic's audit log for owners and admins: filters, chain status, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from bookwell.audit import selectors
from bookwell.audit.models import Action, ActorKind, AuditEvent
from bookwell.audit.services import audit_verify
from bookwell.core.csvcells import safe_cell
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Perm

PAGE_SIZE = 100
EXPORT_LIMIT = 50_000


class FilterForm(forms.Form):
    action = forms.ChoiceField(
        label=gettext_lazy("Action"), required=False, choices=[("", "—"), *Action.choices]
    )
    actor = forms.ChoiceField(label=gettext_lazy("Who"), required=False)
    first = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        label=gettext_lazy("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "—"), *selectors.member_choices(clinic=clinic)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        return data


def _filtered(request: HttpRequest, clinic: Clinic) -> tuple[FilterForm, Any]:
    form = FilterForm(request.GET or None, clinic=clinic)
    zone = ZoneInfo(clinic.time_zone)
    if request.GET and not form.is_valid():
        return form, None
    data = form.cleaned_data if request.GET else {}
    first = data.get("first")
    last = data.get("last")
    events = selectors.clinic_events(
        clinic=clinic,
        action=data.get("action") or "",
        actor_id=data.get("actor") or "",
        first=dt.datetime.combine(first, dt.time(), zone) if first else None,
        until=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone) if last else None,
    )
    return form, events


def _actor_label(event: AuditEvent, names: dict[tuple[str, str], str]) -> str:
    if event.actor_kind == ActorKind.SYSTEM:
        return _("System")
    if event.actor_kind == ActorKind.ANONYMOUS:
        return _("Not signed in")
    found = names.get((event.actor_kind, event.actor_id))
    if found:
        return found
    return _("Former member") if event.actor_kind == ActorKind.USER else _("Removed token")


@clinic_view(Perm.AUDIT_VIEW)
@require_GET
def events(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form, found = _filtered(request, clinic)
    if found is None:
        return render(request, "audit/events.html", {"form": form}, status=400)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    names = selectors.actor_names(clinic=clinic, events=rows)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/events.html",
        {
            "form": form,
            "page": page,
            "rows": [(e, _actor_label(e, names)) for e in rows],
            "chain": audit_verify(clinic.pk),
            "query": query.urlencode(),
        },
    )


@clinic_view(Perm.AUDIT_VIEW)
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form, found = _filtered(request, clinic)
    if found is None:
        return render(request, "audit/events.html", {"form": form}, status=400)
    rows = list(found[:EXPORT_LIMIT])
    names = selectors.actor_names(clinic=clinic, events=rows)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    out = csv.writer(response)
    out.writerow(
        ["seq", "at_utc", "action", "outcome", "actor_kind", "actor_id", "actor", "target_kind",
         "target_id", "network", "device", "browser", "os", "country", "request_id"]
    )  # fmt: skip
    for e in rows:
        # Names (and token names) are people's own words: guarded like any exported cell.
        out.writerow(
            safe_cell(v) for v in
            [e.seq, e.at.astimezone(dt.UTC).isoformat(), e.action, e.outcome, e.actor_kind,
             e.actor_id, _actor_label(e, names), e.target_kind, e.target_id, e.ip_network,
             e.device, e.browser, e.os, e.country, e.request_id]
        )  # fmt: skip
    return response
