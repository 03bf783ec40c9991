"""Staff pages for the clinic's catalogue (services, staff, locations, rooms: list, create,
edit, archive) and schedules (weekly hours with breaks, date overrides, time off, closures)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST

from bookwell.core.access import access_in_clinic
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.scheduling import services
from bookwell.scheduling.forms import (
    WEEKDAYS,
    ClosureForm,
    LocationForm,
    OverrideForm,
    RoomForm,
    ServiceForm,
    StaffForm,
    TimeOffForm,
    format_intervals,
    parse_intervals,
)
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    Service,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

View = Callable[..., HttpResponseBase]


@dataclass(frozen=True)
class Kind:
    """One kind of catalogue entry and how its pages show it."""

    key: str  # URL part and name prefix
    model: type[models.Model]
    form: type[forms.ModelForm]
    title: StrOrPromise
    new_label: StrOrPromise
    order: tuple[str, ...]
    columns: tuple[tuple[str, StrOrPromise], ...]  # (attribute, heading)
    related: tuple[str, ...] = ()


KINDS = {
    "services": Kind(
        "services",
        Service,
        ServiceForm,
        _lazy("Services"),
        _lazy("New service"),
        ("name",),
        (
            ("name", _lazy("Name")),
            ("duration_min", _lazy("Minutes")),
            ("price_label", _lazy("Price")),
        ),
    ),
    "staff": Kind(
        "staff",
        StaffMember,
        StaffForm,
        _lazy("Staff"),
        _lazy("New staff member"),
        ("display_name",),
        (("display_name", _lazy("Name")), ("bookable_label", _lazy("Takes bookings"))),
    ),
    "locations": Kind(
        "locations",
        Location,
        LocationForm,
        _lazy("Locations"),
        _lazy("New location"),
        ("name",),
        (
            ("name", _lazy("Name")),
            ("address", _lazy("Address")),
            ("time_zone", _lazy("Time zone")),
        ),
    ),
    "rooms": Kind(
        "rooms",
        Room,
        RoomForm,
        _lazy("Rooms"),
        _lazy("New room"),
        ("location__name", "name"),
        (
            ("name", _lazy("Name")),
            ("location.name", _lazy("Location")),
            ("capacity", _lazy("People at once")),
        ),
        related=("location",),
    ),
}


def _cell(obj: Any, attribute: str) -> Any:
    if attribute == "price_label":
        return f"{obj.price_cents / 100:.2f} {obj.currency}" if obj.price_cents else "—"
    if attribute == "bookable_label":
        return _("yes") if obj.bookable else _("no")
    value = obj
    for part in attribute.split("."):
        value = getattr(value, part, "")
    return value


def _list_view(kind: Kind) -> View:
    @clinic_view(Perm.CATALOG_MANAGE)
    @require_http_methods(["GET"])
    def view(request: HttpRequest) -> HttpResponse:
        rows_qs = kind.model.objects.order_by(*kind.order)  # type: ignore[attr-defined]
        if kind.related:
            rows_qs = rows_qs.select_related(*kind.related)
        rows = list(rows_qs)
        table = [
            (obj, [_cell(obj, attr) for attr, _h in kind.columns], obj.archived) for obj in rows
        ]
        return render(
            request,
            "scheduling/catalog_list.html",
            {
                "kind": kind,
                "headings": [h for _a, h in kind.columns],
                "active": [t for t in table if not t[2]],
                "archived": [t for t in table if t[2]],
            },
        )

    view.__name__ = f"{kind.key}_list"
    return view


def _save(request: HttpRequest, kind: Kind, form: forms.ModelForm) -> models.Model:
    clinic = request.clinic  # type: ignore[attr-defined]
    if kind.key == "services":
        return services.service_save(
            clinic=clinic,
            service=form.save(commit=False),
            price=form.cleaned_data["price"],
            deposit=form.cleaned_data.get("deposit") or Decimal(0),
            staff=list(form.cleaned_data["staff"]),
            rooms=list(form.cleaned_data["rooms"]),
        )
    extra = {"user": form.cleaned_data["user"]} if kind.key == "staff" else {}
    return services.catalog_save(clinic=clinic, obj=form.save(commit=False), **extra)


def _form_view(kind: Kind, creating: bool) -> View:
    @clinic_view(Perm.CATALOG_MANAGE)
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, object_id: int | None = None) -> HttpResponse:
        clinic = request.clinic  # type: ignore[attr-defined]
        instance = (
            kind.model(clinic=clinic) if creating else access_in_clinic(kind.model, object_id)
        )
        form = kind.form(request.POST or None, instance=instance, clinic=clinic)  # type: ignore[call-arg]
        title = getattr(instance, "name", "") or getattr(instance, "display_name", "")
        ctx: dict[str, Any] = {
            "kind": kind,
            "form": form,
            "creating": creating,
            "obj": instance,
            "title": title,
        }
        if kind.key == "staff" and not creating:
            ctx["future"] = services.future_appointments(staff=instance)  # type: ignore[arg-type]
        if request.method == "POST":
            if form.is_valid():
                try:
                    _save(request, kind, form)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                except ServiceError as exc:  # the plan's seats are taken (P9)
                    form.add_error(None, exc.message)
                else:
                    messages.success(request, _("Saved."))
                    return redirect(f"scheduling:{kind.key}", clinic_slug=clinic.slug)
            return render(request, "scheduling/catalog_form.html", ctx, status=400)
        return render(request, "scheduling/catalog_form.html", ctx)

    view.__name__ = f"{kind.key}_{'new' if creating else 'edit'}"
    return view


def _archive_view(kind: Kind) -> View:
    @clinic_view(Perm.CATALOG_MANAGE)
    @require_POST
    def view(request: HttpRequest, object_id: int) -> HttpResponse:
        clinic = request.clinic  # type: ignore[attr-defined]
        obj = access_in_clinic(kind.model, object_id)
        archived = request.POST.get("archived") != "0"
        try:
            services.catalog_archive(obj=obj, archived=archived)
        except ServiceError as exc:  # no seat left in the plan for it (P9)
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Archived.") if archived else _("Back in use."))
        return redirect(f"scheduling:{kind.key}", clinic_slug=clinic.slug)

    view.__name__ = f"{kind.key}_archive"
    return view


CATALOG_VIEWS = {
    key: {
        "list": _list_view(kind),
        "new": _form_view(kind, creating=True),
        "edit": _form_view(kind, creating=False),
        "archive": _archive_view(kind),
    }
    for key, kind in KINDS.items()
}


# --- Schedules ------------------------------------------------------------------------------


def _staff(staff_id: int) -> StaffMember:
    return access_in_clinic(StaffMember, staff_id)


def _schedule_context(request: HttpRequest, staff: StaffMember, **extra: Any) -> dict[str, Any]:
    clinic = request.clinic  # type: ignore[attr-defined]
    locations = list(Location.objects.filter(archived=False).order_by("name"))
    hours: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for location_id, weekday, a, b in (
        WorkingHours.objects.filter(staff=staff)
        .order_by("start_min")
        .values_list("location_id", "weekday", "start_min", "end_min")
    ):
        hours.setdefault((location_id, weekday), []).append((a, b))
    posted = extra.pop("posted", None)
    grid = [
        (
            index,
            name,
            [
                (
                    location,
                    f"h_{location.pk}_{index}",
                    posted.get(f"h_{location.pk}_{index}", "")
                    if posted is not None
                    else format_intervals(hours.get((location.pk, index), [])),
                )
                for location in locations
            ],
        )
        for index, name in enumerate(WEEKDAYS)
    ]
    today = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date()
    return {
        "staff": staff,
        "locations": locations,
        "grid": grid,
        "overrides": [
            (o, format_intervals(o.intervals))
            for o in DateOverride.objects.filter(staff=staff, date__gte=today)
            .select_related("location")
            .order_by("date")
        ],
        "time_off": TimeOff.objects.filter(staff=staff, end__gt=timezone.now()).order_by("start"),
        "override_form": extra.pop("override_form", None) or OverrideForm(),
        "time_off_form": extra.pop("time_off_form", None) or TimeOffForm(),
        "errors": extra.pop("errors", {}),
        **extra,
    }


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_http_methods(["GET", "POST"])
def schedule(request: HttpRequest, staff_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    staff = _staff(staff_id)
    if request.method == "GET":
        return render(request, "scheduling/schedule.html", _schedule_context(request, staff))
    locations = list(Location.objects.filter(archived=False))
    hours: dict[tuple[int, int], list[tuple[int, int]]] = {}
    errors: dict[str, str] = {}
    for location in locations:
        for weekday in range(7):
            key = f"h_{location.pk}_{weekday}"
            try:
                pairs = parse_intervals(request.POST.get(key, "")[:300])
            except ValueError as exc:
                errors[key] = str(exc)
                continue
            if pairs:
                hours[(location.pk, weekday)] = pairs
    if not errors:
        try:
            services.weekly_hours_replace(clinic=clinic, staff=staff, hours=hours)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                weekday = int(field.removeprefix("day_")) if field.startswith("day_") else 0
                for location in locations:
                    errors[f"h_{location.pk}_{weekday}"] = problems[0]
        else:
            messages.success(request, _("Weekly hours saved."))
            return redirect("scheduling:schedule", clinic_slug=clinic.slug, staff_id=staff.pk)
    ctx = _schedule_context(request, staff, posted=request.POST, errors=errors)
    return render(request, "scheduling/schedule.html", ctx, status=400)


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_POST
def override_add(request: HttpRequest, staff_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    staff = _staff(staff_id)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.override_set(
                clinic=clinic,
                staff=staff,
                date=form.cleaned_data["date"],
                location=form.cleaned_data["location"],
                intervals=form.cleaned_data["hours"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Hours for that day saved."))
            return redirect("scheduling:schedule", clinic_slug=clinic.slug, staff_id=staff.pk)
    ctx = _schedule_context(request, staff, override_form=form)
    return render(request, "scheduling/schedule.html", ctx, status=400)


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_POST
def override_delete(request: HttpRequest, override_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    override = access_in_clinic(DateOverride, override_id)
    staff_id = override.staff_id
    services.schedule_entry_remove(entry=override)
    messages.success(request, _("Back to the usual hours that day."))
    return redirect("scheduling:schedule", clinic_slug=clinic.slug, staff_id=staff_id)


def _local(moment: dt.datetime, time_zone: str) -> dt.datetime:
    """A naive local date-time from the form, in the clinic's zone (a skipped time moves to
    after the change, as everywhere)."""
    zone = ZoneInfo(time_zone)
    naive = moment.replace(tzinfo=None)
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(dt.UTC)


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_POST
def time_off_add(request: HttpRequest, staff_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    staff = _staff(staff_id)
    form = TimeOffForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.time_off_add(
                clinic=clinic,
                staff=staff,
                start=_local(data["start"], clinic.time_zone),
                end=_local(data["end"], clinic.time_zone),
                category=data["category"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Time off added."))
            return redirect("scheduling:schedule", clinic_slug=clinic.slug, staff_id=staff.pk)
    ctx = _schedule_context(request, staff, time_off_form=form)
    return render(request, "scheduling/schedule.html", ctx, status=400)


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_POST
def time_off_delete(request: HttpRequest, time_off_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    time_off = access_in_clinic(TimeOff, time_off_id)
    staff_id = time_off.staff_id
    services.schedule_entry_remove(entry=time_off)
    messages.success(request, _("Time off removed."))
    return redirect("scheduling:schedule", clinic_slug=clinic.slug, staff_id=staff_id)


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_http_methods(["GET", "POST"])
def closures(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = ClosureForm(request.POST or None, instance=ClinicClosure(clinic=clinic))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.closure_add(clinic=clinic, closure=form.save(commit=False))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Closure added."))
                return redirect("scheduling:closures", clinic_slug=clinic.slug)
        status = 400
    today = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date()
    upcoming = ClinicClosure.objects.filter(last_day__gte=today).order_by("first_day")
    staff = StaffMember.objects.filter(archived=False).order_by("display_name")
    return render(
        request,
        "scheduling/closures.html",
        {"form": form, "closures": upcoming, "staff": staff},
        status=status,
    )


@clinic_view(Perm.SCHEDULES_MANAGE)
@require_POST
def closure_delete(request: HttpRequest, closure_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    services.schedule_entry_remove(entry=access_in_clinic(ClinicClosure, closure_id))
    messages.success(request, _("Closure removed."))
    return redirect("scheduling:closures", clinic_slug=clinic.slug)
