"""The front desk's calendar: day and week grids by staff member or room, booking from an
empty time, the appointment panel (status, move, cancel, note, series), and the waitlist.

Every page works without JavaScript (the panel then opens as its own page beside the grid);
with htmx the panel opens in place and the grid refreshes itself every 30 s, when the window
regains focus, and after any change made in the panel (HX-Trigger "bookwell:changed").
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.accounts.models import User
from bookwell.bookings import desk, grid, grid_cache, recurring, selectors
from bookwell.bookings.forms import (
    CancelForm,
    MoveForm,
    NewAppointmentForm,
    NoteForm,
    SeriesCancelForm,
    StatusForm,
    WaitlistAddForm,
)
from bookwell.bookings.models import (
    Appointment,
    OfferStatus,
    RecurringSeries,
    Status,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from bookwell.bookings.online import online_waitlist_leave
from bookwell.bookings.services import (
    TRANSITIONS,
    appointment_reschedule,
    appointment_set_status,
)
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients.selectors import client_search
from bookwell.clients.services import ClientInput
from bookwell.core.access import access_in_clinic
from bookwell.core.dates import parse_day
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.core.urlcache import cached_reverse
from bookwell.payments.models import PaymentStatus
from bookwell.scheduling.models import Room, StaffMember
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Perm, role_has

CHANGED = "bookwell:changed"


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


def _today(clinic: Clinic) -> dt.date:
    return timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date()


def _params(request: HttpRequest, clinic: Clinic) -> dict[str, Any]:
    """What the calendar shows, from the query string, with safe defaults."""
    day = parse_day(request.GET.get("date")) or _today(clinic)
    view = "week" if request.GET.get("view") == "week" else "day"
    by = "room" if request.GET.get("by") == "room" else "staff"
    return {
        "date": day,
        "view": view,
        "by": by,
        "location": _int(request.GET.get("location")),
        "staff": _int(request.GET.get("staff")),
        "room": _int(request.GET.get("room")),
    }


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    clean = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in merged.items()}
    return urlencode({k: v for k, v in clean.items() if v not in (None, "")})


@dataclass(frozen=True)
class _Drawn:
    """What the calendar page shows that comes from the clinic's data: cached per calendar
    version (bookings.grid_cache), so plain values only."""

    params: dict[str, Any]  # with the week's default staff member or room filled in
    view: str
    days: list[dt.date]
    has_columns: bool
    grid: str  # SafeString
    toolbar: str  # SafeString


def _draw(clinic: Clinic, params: dict[str, Any], *, may_book: bool, today: dt.date) -> _Drawn:
    day: dt.date = params["date"]
    staff_all: list[tuple[int, str]] = []
    rooms_all: list[tuple[int, str]] = []
    if params["view"] == "week":  # the week shows one staff member or room: the choices
        # (an archived one too when asked for by id: their remaining appointments stay
        # reachable, as their column in the day view is)
        staff_all = list(
            StaffMember.objects.filter(Q(archived=False) | Q(pk=params["staff"] or 0))
            .order_by("display_name", "pk")
            .values_list("pk", "display_name")
        )
        rooms_all = [
            (pk, f"{name} · {location}")
            for pk, name, location in Room.objects.filter(
                Q(archived=False) | Q(pk=params["room"] or 0)
            )
            .order_by("name", "pk")
            .values_list("pk", "name", "location__name")
        ]
        first, days = day - dt.timedelta(days=day.weekday()), 7
        if params["by"] == "staff" and params["staff"] is None and staff_all:
            params["staff"] = staff_all[0][0]
        if params["by"] == "room" and params["room"] is None and rooms_all:
            params["room"] = rooms_all[0][0]
    else:
        first, days = day, 1
    cal = selectors.calendar_load(
        clinic=clinic,
        first=first,
        days=days,
        by=params["by"],
        location_id=params["location"],
        staff_id=params["staff"] if params["view"] == "week" else None,
        room_id=params["room"] if params["view"] == "week" else None,
    )
    appointment_url = cached_reverse(
        "bookings:appointment",
        kwargs={"clinic_slug": clinic.slug, "appointment_id": uuid.UUID(int=0)},
    ).removesuffix(f"{uuid.UUID(int=0)}/")
    new_url = (
        cached_reverse("bookings:new", kwargs={"clinic_slug": clinic.slug}) if may_book else ""
    )
    step = 7 if params["view"] == "week" else 1
    toolbar = render_to_string(
        "bookings/_toolbar.html",
        {
            "params": params,
            "view": cal.view,
            "days": cal.days,
            "cal_url": cached_reverse("bookings:calendar", kwargs={"clinic_slug": clinic.slug}),
            "new_url": new_url,
            "waitlist_url": cached_reverse(
                "bookings:waitlist", kwargs={"clinic_slug": clinic.slug}
            ),
            "prev_query": _query(params, date=day - dt.timedelta(days=step)),
            "next_query": _query(params, date=day + dt.timedelta(days=step)),
            "today_query": _query(params, date=today),
            "day_query": _query(params, view="day"),
            "week_query": _query(params, view="week"),
            "staff_query": _query(params, by="staff", room=None),
            "room_query": _query(params, by="room", staff=None),
            "staff_all": staff_all,
            "rooms_all": rooms_all,
            "locations": list(selectors.locations(clinic=clinic).values_list("pk", "name")),
        },
    )
    return _Drawn(
        params=params,
        view=cal.view,
        days=cal.days,
        has_columns=bool(cal.columns),
        grid=grid.grid_html(
            cal, appointment_url=appointment_url, new_url=new_url, date=day, today=today
        ),
        toolbar=toolbar,
    )


def _drawing_key(request: HttpRequest, clinic: Clinic) -> tuple[dict[str, Any], Any]:
    """What the calendar asked for, and everything its drawing depends on besides the
    clinic's data (which the calendar stamp covers)."""
    asked = _params(request, clinic)
    today = _today(clinic)
    may_book = role_has(request.membership.role, Perm.APPOINTMENTS_MANAGE)  # type: ignore[attr-defined]
    key = (
        sorted(asked.items()),
        today,
        may_book,
        get_language(),
        clinic.slug,
        clinic.time_zone,
    )
    return asked, key


def _calendar_context(
    request: HttpRequest, clinic: Clinic, drawing: tuple[dict[str, Any], Any] | None = None
) -> dict[str, Any]:
    asked, key = drawing or _drawing_key(request, clinic)
    _, today, may_book, *_ = key
    drawn = grid_cache.cached(
        clinic, key, lambda: _draw(clinic, dict(asked), may_book=may_book, today=today)
    )
    return {
        "drawn": drawn,
        "params": drawn.params,
        "cal_url": cached_reverse("bookings:calendar", kwargs={"clinic_slug": clinic.slug}),
        "query": _query(drawn.params),
    }


def _page(
    request: HttpRequest,
    panel: str | None = None,
    ctx: dict[str, Any] | None = None,
    status: int = 200,
    changed: bool = False,
) -> HttpResponse:
    """The panel alone for htmx; otherwise the whole calendar page with the panel beside it."""
    clinic = request.clinic  # type: ignore[attr-defined]
    ctx = dict(ctx or {})
    if request.htmx and panel:  # type: ignore[attr-defined]
        response = render(request, panel, ctx, status=status)
    else:
        ctx.update(_calendar_context(request, clinic))
        ctx["panel"] = panel
        response = render(request, "bookings/calendar.html", ctx, status=status)
    if changed:
        response["HX-Trigger"] = CHANGED
    return response


# --- The grid -------------------------------------------------------------------------------


@clinic_view(Perm.CALENDAR_VIEW)
@require_GET
@transaction.non_atomic_requests  # a read: no transaction (on SQLite, no write lock)
def calendar(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "bookings/calendar.html#grid", _calendar_context(request, clinic))
    # The whole page comes from the cache as long as nothing it shows has changed.
    drawing = _drawing_key(request, clinic)
    return grid_cache.cached_page(
        request,
        clinic,
        drawing[1],
        "bookings/calendar.html",
        lambda: _calendar_context(request, clinic, drawing),
    )


# --- Booking --------------------------------------------------------------------------------


def _initial_new(request: HttpRequest, clinic: Clinic) -> dict[str, Any]:
    initial: dict[str, Any] = {"date": _today(clinic), "count": 6}
    staff_id = _int(request.GET.get("staff"))
    if staff_id:
        initial["staff"] = staff_id
        # The first service this person performs, as a starting point.
        from bookwell.scheduling.models import ServiceStaff

        first_service = (
            ServiceStaff.objects.filter(staff_id=staff_id, service__archived=False)
            .order_by("service__name")
            .values_list("service_id", flat=True)
            .first()
        )
        if first_service:
            initial["service"] = first_service
    initial["date"] = parse_day(request.GET.get("date")) or initial["date"]
    room_id = _int(request.GET.get("room"))
    if room_id:
        initial["room"] = room_id
    minute = _int(request.GET.get("minute"))
    if minute is not None and minute < 24 * 60:
        initial["time"] = dt.time(minute // 60, minute % 60)
    client_id = request.GET.get("client", "")
    if client_id:
        initial["client"] = client_id
    return initial


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_http_methods(["GET", "POST"])
def appointment_new(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = NewAppointmentForm(request.POST or None, initial=_initial_new(request, clinic))
    ctx: dict[str, Any] = {"form": form}
    if request.method == "GET":
        raw = form.initial.get("client")
        ctx["chosen_client"] = _client_from(raw) if raw else None
        return _page(request, "bookings/panel_new.html", ctx)
    if not form.is_valid():
        ctx["chosen_client"] = form.client_obj
        return _page(request, "bookings/panel_new.html", ctx, status=400)
    data = form.cleaned_data
    ctx["chosen_client"] = form.client_obj
    try:
        start = desk.local_moment(data["date"], data["time"], clinic.time_zone)
        desk.check_performs(data["service"], data["staff"])
        new_client = (
            None
            if form.client_obj
            else ClientInput(
                full_name=data["new_client_name"],
                email=data["new_client_email"] or "",
                phone=data["new_client_phone"] or "",
            )
        )
        if data.get("repeat"):
            return _book_series(request, clinic, form, start, new_client)
        appointment = desk.desk_book(
            clinic=clinic,
            actor=_actor(request),
            service=data["service"],
            staff=data["staff"],
            start=start,
            client=form.client_obj,
            new_client=new_client,
            note=data["note"] or "",
            room=data.get("room"),
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _page(request, "bookings/panel_new.html", ctx, status=400)
    except ServiceError as exc:
        form.add_error(None, _taken_message(exc))
        if exc.code == "slot_taken":
            ctx["fresh_times"] = _fresh_times(clinic, data["service"], data["staff"], data["date"])
        return _page(request, "bookings/panel_new.html", ctx, status=409)
    return _after_change(request, appointment, _("Booked."))


def _fresh_times(clinic: Clinic, service: Any, staff: Any, day: dt.date) -> list[str]:
    """What is still free that day with that staff member (as availability offers it), for
    the front desk to pick from after a time was taken."""
    from bookwell.scheduling.selectors import availability

    zone = ZoneInfo(clinic.time_zone)
    # The desk is not held to the online notice: anything from now on counts.
    now = timezone.now()
    slots = availability(
        clinic=clinic,
        service=service,
        first=day,
        last=day,
        staff_ids=[staff.pk],
        now=now - dt.timedelta(minutes=service.min_notice_min),
    )
    times = [dt.datetime.fromtimestamp(s.start, zone) for s in slots if s.start >= now.timestamp()]
    return [t.strftime("%H:%M") for t in times if t.date() == day][:16]


def _taken_message(exc: ServiceError) -> str:
    if exc.code == "slot_taken":
        return _("This time was just taken. Choose another time.")
    return exc.message


def _book_series(
    request: HttpRequest,
    clinic: Clinic,
    form: NewAppointmentForm,
    start: dt.datetime,
    new_client: ClientInput | None,
) -> HttpResponse:
    """First a preview of which occurrences conflict; then the user books the free ones."""
    from bookwell.clients.services import client_create

    data = form.cleaned_data
    every = int(data["repeat"])
    tz = recurring.series_time_zone(clinic, data["staff"])
    starts = recurring.occurrences(
        first_start=start, time_zone=tz, every_weeks=every, count=data["count"], until=None
    )
    ctx: dict[str, Any] = {"form": form, "chosen_client": form.client_obj}
    if data.get("confirm") != "rest":
        ctx["preview"] = recurring.series_preview(
            clinic=clinic,
            service=data["service"],
            staff=data["staff"],
            starts=starts,
            client=form.client_obj,
        )
        ctx["free_count"] = sum(1 for o in ctx["preview"] if not o.conflict)
        return _page(request, "bookings/panel_new.html", ctx)
    with transaction.atomic():
        client = form.client_obj
        if client is None and new_client is not None:
            client = client_create(clinic=clinic, data=new_client, actor=_actor(request))
        _series, booked = recurring.series_book(
            clinic=clinic,
            service=data["service"],
            staff=data["staff"],
            first_start=start,
            every_weeks=every,
            count=data["count"],
            client=client,
            skip_conflicts=True,
            actor=_actor(request),
        )
    if not booked:
        form.add_error(None, _("None of these times is free."))
        return _page(request, "bookings/panel_new.html", ctx, status=409)
    note = _("Booked %(n)s of %(total)s.") % {"n": len(booked), "total": len(starts)}
    return _after_change(request, booked[0], note)


def _client_from(raw: object) -> Any:
    try:
        pk = uuid.UUID(str(raw))
    except ValueError:
        return None
    from bookwell.clients.models import Client

    return Client.objects.filter(pk=pk).first()


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_GET
def client_lookup(request: HttpRequest) -> HttpResponse:
    """Live client search for the booking and waitlist forms (names come from the blind
    index; nothing is logged)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    query = request.GET.get("q", "")[:200]
    results = list(client_search(clinic=clinic, query=query)[:8]) if query.strip() else []
    return render(
        request,
        "bookings/client_lookup.html",
        {"results": results, "query": query, "field": request.GET.get("field", "client")},
    )


# --- One appointment ------------------------------------------------------------------------


def _appointment(appointment_id: uuid.UUID) -> Appointment:
    appointment = access_in_clinic(Appointment, appointment_id)
    return appointment


def _panel_context(appointment: Appointment, **extra: Any) -> dict[str, Any]:
    status = appointment.status
    return {
        "appointment": appointment,
        "status_form": StatusForm(current=status),
        "transitions": [
            (value, label)
            for value, label in Status.choices
            if value in TRANSITIONS.get(status, set())
            and value not in (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)
        ],
        "can_cancel": Status.CANCELLED_BY_CLINIC in TRANSITIONS.get(status, set()),
        "can_move": status in (Status.PENDING, Status.CONFIRMED),
        "move_form": extra.pop("move_form", None)
        or MoveForm(
            service=appointment.service,
            initial={
                "date": appointment.start.astimezone(ZoneInfo(appointment.clinic.time_zone)).date(),
                "time": appointment.start.astimezone(ZoneInfo(appointment.clinic.time_zone)).time(),
                "staff": appointment.staff_id,
            },
        ),
        "cancel_form": extra.pop("cancel_form", None) or CancelForm(),
        "note_form": extra.pop("note_form", None) or NoteForm(initial={"note": appointment.note}),
        "series_form": SeriesCancelForm(),
        "payments": list(appointment.payments.order_by("created_at")),
        "refundable": (PaymentStatus.PAID, PaymentStatus.PARTLY_REFUNDED),
        "payable": status in (Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED),
        **extra,
    }


def _after_change(request: HttpRequest, appointment: Appointment, note: str) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    if request.htmx:  # type: ignore[attr-defined]
        appointment = _appointment(appointment.pk)
        ctx = _panel_context(appointment, flash=note)
        return _page(request, "bookings/panel_appointment.html", ctx, changed=True)
    messages.success(request, note)
    local = appointment.start.astimezone(ZoneInfo(clinic.time_zone)).date()
    url = reverse(
        "bookings:appointment",
        kwargs={"clinic_slug": clinic.slug, "appointment_id": appointment.pk},
    )
    return redirect(f"{url}?date={local.isoformat()}")


@clinic_view(Perm.CALENDAR_VIEW)
@require_GET
def appointment_detail(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = _appointment(appointment_id)
    return _page(request, "bookings/panel_appointment.html", _panel_context(appointment))


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def appointment_status(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = _appointment(appointment_id)
    form = StatusForm(request.POST, current=appointment.status)
    if not form.is_valid():
        ctx = _panel_context(appointment, error=_("This change is not possible now."))
        return _page(request, "bookings/panel_appointment.html", ctx, status=409)
    try:
        appointment_set_status(appointment=appointment, status=form.cleaned_data["status"])
    except ServiceError as exc:
        ctx = _panel_context(appointment, error=exc.message)
        return _page(request, "bookings/panel_appointment.html", ctx, status=409)
    return _after_change(request, appointment, _("Status changed."))


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def appointment_move(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    appointment = _appointment(appointment_id)
    form = MoveForm(request.POST, service=appointment.service)
    refused_status = 409
    if form.is_valid():
        try:
            start = desk.local_moment(
                form.cleaned_data["date"], form.cleaned_data["time"], clinic.time_zone
            )
            appointment_reschedule(
                clinic=clinic,
                appointment=appointment,
                start=start,
                staff=form.cleaned_data["staff"],
                room=form.cleaned_data.get("room"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ServiceError as exc:
            form.add_error(None, _taken_message(exc))
            refused_status = exc.status
        else:
            return _after_change(request, appointment, _("Moved."))
    status = 400 if any(form.errors.get(f) for f in ("date", "time", "staff", "room")) else 409
    if status == 409 and refused_status == 400:
        status = 400
    appointment = _appointment(appointment_id)
    ctx = _panel_context(appointment, move_form=form)
    return _page(request, "bookings/panel_appointment.html", ctx, status=status)


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def appointment_cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = _appointment(appointment_id)
    form = CancelForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            desk.desk_cancel(
                appointment=appointment,
                for_client=data["who"] == "client",
                reason=data["reason"],
                override_reason=data["override_reason"] or None,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ServiceError as exc:
            if exc.code == "too_late":
                form.add_error(
                    "override_reason",
                    _(
                        "This is inside the client's notice window: choose the reason for the "
                        "exception."
                    ),
                )
            else:
                form.add_error(None, exc.message)
        else:
            return _after_change(request, appointment, _("Cancelled."))
    appointment = _appointment(appointment_id)
    ctx = _panel_context(appointment, cancel_form=form)
    return _page(request, "bookings/panel_appointment.html", ctx, status=400)


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def appointment_note(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = _appointment(appointment_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            desk.desk_note(appointment=appointment, note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _after_change(request, appointment, _("Note saved."))
    ctx = _panel_context(appointment, note_form=form)
    return _page(request, "bookings/panel_appointment.html", ctx, status=400)


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def series_cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = _appointment(appointment_id)
    form = SeriesCancelForm(request.POST)
    if appointment.series_id is None or not form.is_valid():
        ctx = _panel_context(appointment, error=_("Choose which appointments to cancel."))
        return _page(request, "bookings/panel_appointment.html", ctx, status=400)
    series = access_in_clinic(RecurringSeries, appointment.series_id)
    try:
        count = recurring.series_cancel(
            series=series,
            from_start=appointment.start,
            only_one=form.cleaned_data["scope"] == "one",
        )
    except ServiceError as exc:
        ctx = _panel_context(appointment, error=exc.message)
        return _page(request, "bookings/panel_appointment.html", ctx, status=409)
    return _after_change(request, appointment, _("Cancelled %(n)s.") % {"n": count})


# --- Waitlist -------------------------------------------------------------------------------


def _waitlist_page(request: HttpRequest, form: WaitlistAddForm, status: int = 200) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    entries = list(selectors.waitlist_open(clinic=clinic))
    offers = {
        o.entry_id: o
        for o in WaitlistOffer.objects.filter(
            entry__in=entries, status=OfferStatus.OPEN, expires_at__gt=timezone.now()
        ).select_related("staff")
    }
    chosen = form.client_obj if form.is_bound else _client_from(request.GET.get("client", ""))
    if chosen is not None and not form.is_bound:
        form.initial["client"] = str(chosen.pk)
    return render(
        request,
        "bookings/waitlist.html",
        {"rows": [(e, offers.get(e.pk)) for e in entries], "form": form, "chosen_client": chosen},
        status=status,
    )


def _waitlist_form(request: HttpRequest) -> WaitlistAddForm:
    today = _today(request.clinic)  # type: ignore[attr-defined]
    return WaitlistAddForm(
        request.POST or None,
        initial={"first_day": today, "last_day": today + dt.timedelta(days=14)},
    )


@clinic_view(Perm.CALENDAR_VIEW)
@require_GET
def waitlist(request: HttpRequest) -> HttpResponse:
    return _waitlist_page(request, _waitlist_form(request))


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def waitlist_add(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = _waitlist_form(request)
    if form.is_valid() and form.client_obj is not None:
        data = form.cleaned_data
        try:
            waitlist_join(
                clinic=clinic,
                client=form.client_obj,
                service=data["service"],
                staff=data["staff"],
                first_day=data["first_day"],
                last_day=data["last_day"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Added to the waitlist."))
            return redirect("bookings:waitlist", clinic_slug=clinic.slug)
    return _waitlist_page(request, form, status=400)


@clinic_view(Perm.APPOINTMENTS_MANAGE)
@require_POST
def waitlist_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    entry = access_in_clinic(WaitlistEntry, entry_id)
    if entry.status in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
        online_waitlist_leave(entry=entry)
        messages.success(request, _("Removed from the waitlist."))
    return redirect("bookings:waitlist", clinic_slug=clinic.slug)
