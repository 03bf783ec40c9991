"""The public booking page (/book/<clinic-slug>/) and the client's manage links.

Service, then staff member (or no preference), then a month with the days that have free
times, then the times of a day, then the client's details, then the confirmation with the
manage link and an .ics file. Plain links and forms: it all works without JavaScript.

Cookies (P19): none. The pages set no session and no CSRF cookie, before or after booking.
Forms are protected instead by the Origin check below and a signed, timestamped ticket; as
these pages act for nobody signed in, a forged cross-site post could not do more than its
sender could do directly. Bots meet a honeypot field, a minimum fill time and a rate limit
per IP network (never a third-party captcha).
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.csp import CSP
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import date_format, number_format, time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.bookings import ics, manage_links, online
from bookwell.bookings.models import Appointment, OfferStatus, Status, WaitlistOffer
from bookwell.bookings.public_forms import ContactForm, WaitlistForm, new_ticket
from bookwell.bookings.services import SlotTaken
from bookwell.clients.services import privacy_notice_current
from bookwell.core import ratelimit
from bookwell.core.context import clinic_context
from bookwell.core.dates import parse_day
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.core.net import client_ip, network_of
from bookwell.payments import gateway as payment_gateway
from bookwell.payments import services as payment_services
from bookwell.payments.models import Payment, PaymentStatus
from bookwell.scheduling.models import Service, StaffMember
from bookwell.scheduling.selectors import availability
from bookwell.tenancy.models import Clinic

View = Callable[..., HttpResponse]
logger = logging.getLogger("bookwell.book")


# --- The frame around every public page -----------------------------------------------------


def _public_message(exc: ServiceError) -> str:
    """What a client is told when a booking is refused: the clinic's plan is its business."""
    if exc.code == "plan_limit_reached":
        return _(
            "This clinic cannot take more online bookings this month. Please contact the "
            "clinic to book."
        )
    return exc.message


def _language(request: HttpRequest, clinic: Clinic) -> str:
    wanted = request.GET.get("lang") or request.POST.get("lang") or ""
    codes = {code for code, _name in settings.LANGUAGES}
    return wanted if wanted in codes else clinic.locale


def _too_many(request: HttpRequest, scope: str) -> int:
    if scope == "post":
        limit, window = settings.BOOK_POST_LIMIT_PER_10_MINUTES, 600
    else:
        limit, window = settings.BOOK_PAGE_LIMIT_PER_MINUTE, 60
    return ratelimit.hit(
        f"book:{scope}", network_of(client_ip(request)), limit=limit, window_s=window
    )


def _foreign_origin(request: HttpRequest) -> bool:
    """A post sent by another site's page (browsers say so in Origin or Sec-Fetch-Site)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return not url_has_allowed_host_and_scheme(
            origin + "/", allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}


def public_page(view: View) -> View:
    """Finds the clinic, runs in its context and language, limits the rate, and sets the
    clinic's own framing policy (P19: and never a cookie)."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, clinic_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        clinic = Clinic.objects.filter(slug=clinic_slug).first()
        if clinic is None:  # the "not found" page in the language asked for or the browser's
            asked = request.GET.get("lang", "")
            codes = {code for code, _name in settings.LANGUAGES}
            with translation.override(
                asked if asked in codes else translation.get_language_from_request(request)
            ):
                return render(request, "404.html", status=404)
        language = _language(request, clinic)
        with (
            clinic_context(clinic),
            translation.override(language),
            timezone.override(ZoneInfo(clinic.time_zone)),
        ):
            request.clinic = clinic  # type: ignore[attr-defined]
            request.book_language = language  # type: ignore[attr-defined]
            ctx = _context(request, clinic)
            if request.method == "POST":
                wait = _too_many(request, "post")
                if not wait and _foreign_origin(request):
                    return _frame(render(request, "book/refused.html", ctx, status=403), clinic)
            else:
                wait = _too_many(request, "page")
            if wait:
                response = render(request, "book/slow_down.html", ctx, status=429)
                response["Retry-After"] = str(wait)
            else:
                try:
                    response = view(request, clinic, *args, **kwargs)
                except Http404:  # rendered here, in the page's language
                    response = render(request, "404.html", ctx, status=404)
            response.headers.setdefault("Cache-Control", "no-store")
            return _frame(response, clinic)

    return wrapped


def _frame(response: HttpResponse, clinic: Clinic) -> HttpResponse:
    # A booking form may lead on to Stripe's Checkout page (a redirect after the POST, which
    # the form-action rule covers too).
    config = {**settings.SECURE_CSP, "form-action": [CSP.SELF, settings.STRIPE_CHECKOUT_ORIGIN]}
    origins = [o.strip() for o in clinic.embed_origins.splitlines() if o.strip()]
    if origins:
        # Framing only by the sites the clinic lists (CSP frame-ancestors; X-Frame-Options
        # cannot name origins, so it is left off).
        config["frame-ancestors"] = [CSP.SELF, *origins]
        response.xframe_options_exempt = True
    response._csp_config = config  # type: ignore[attr-defined]
    return response


def _context(request: HttpRequest, clinic: Clinic, **extra: Any) -> dict[str, Any]:
    return {
        "clinic": clinic,
        "lang": request.book_language,  # type: ignore[attr-defined]
        "languages": settings.LANGUAGES,
        **extra,
    }


# --- Helpers -------------------------------------------------------------------------------


def _service(clinic: Clinic, service_id: int) -> Service:
    service = Service.objects.filter(pk=service_id, online_bookable=True, archived=False).first()
    if service is None or not clinic.online_booking:
        raise Http404("No such service")
    return service


def _staff_choices(service: Service) -> list[StaffMember]:
    return list(
        StaffMember.objects.filter(services=service, bookable=True, archived=False).order_by(
            "display_name", "pk"
        )
    )


def _chosen_staff(request: HttpRequest, choices: list[StaffMember]) -> StaffMember | str | None:
    """The chosen staff member, None for no preference, or "" when not chosen yet."""
    raw = request.GET.get("staff") or request.POST.get("staff") or ""
    if len(choices) == 1:
        return choices[0]
    if raw == "any":
        return None
    for member in choices:
        if raw == str(member.pk):
            return member
    return ""


def _month_of(request: HttpRequest, today: dt.date, last_day: dt.date) -> dt.date:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        first = dt.date(year, month, 1)
    except (ValueError, OverflowError):  # junk, or a year no date can hold
        first = today.replace(day=1)
    return min(max(first, today.replace(day=1)), last_day.replace(day=1))


def _day_of(request: HttpRequest, key: str = "day") -> dt.date | None:
    return parse_day(request.GET.get(key))


def _slots_by_day(
    clinic: Clinic,
    service: Service,
    staff: StaffMember | None,
    first: dt.date,
    last: dt.date,
    exclude: Appointment | None = None,
) -> dict[dt.date, list[dt.datetime]]:
    zone = ZoneInfo(clinic.time_zone)
    slots = availability(
        clinic=clinic,
        service=service,
        first=first,
        last=last,
        staff_ids=[staff.pk] if staff else None,
        exclude_appointment=exclude,
    )
    days: dict[dt.date, list[dt.datetime]] = {}
    for slot in slots:
        moment = dt.datetime.fromtimestamp(slot.start, zone)
        if first <= moment.date() <= last:
            days.setdefault(moment.date(), []).append(moment)
    return days


def _month_grid(month: dt.date, free_days: set[dt.date]) -> list[list[dict[str, Any]]]:
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        weeks.append(
            [
                {
                    "date": d,
                    "iso": d.isoformat(),
                    "label": date_format(d, _("l j F")),
                    "in_month": d.month == month.month,
                    "free": d in free_days,
                }
                for d in week
            ]
        )
    return weeks


def _times(moments: list[dt.datetime]) -> list[dict[str, Any]]:
    return [{"stamp": int(m.timestamp()), "label": time_format(m)} for m in moments]


def _calendar_context(
    request: HttpRequest,
    clinic: Clinic,
    service: Service,
    staff: StaffMember | None,
    exclude: Appointment | None = None,
    show_day: dt.date | None = None,
) -> dict[str, Any]:
    """The month with its free days, and the chosen day's times (from the query, or
    `show_day`)."""
    zone = ZoneInfo(clinic.time_zone)
    today = timezone.now().astimezone(zone).date()
    horizon = today + dt.timedelta(days=service.max_advance_days)
    if show_day is not None:
        month = min(max(show_day.replace(day=1), today.replace(day=1)), horizon.replace(day=1))
    else:
        month = _month_of(request, today, horizon)
    month_last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    first, last = max(month, today), min(month_last, horizon)
    days = _slots_by_day(clinic, service, staff, first, last, exclude) if first <= last else {}
    day = show_day or _day_of(request)
    if day is not None and not (first <= day <= last):
        day = None
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    following = month_last + dt.timedelta(days=1)
    return {
        "service": service,
        "staff": staff,
        "month": month,
        "weeks": _month_grid(month, set(days)),
        "previous_month": previous if previous >= today.replace(day=1) else None,
        "next_month": following if following <= horizon else None,
        "day": day,
        "times": _times(days.get(day, [])) if day else [],
        "any_free": bool(days),
        "time_zone": clinic.time_zone,
        "weekday_names": [(WEEKDAYS_ABBR[i], WEEKDAYS[i]) for i in range(7)],
    }


def _start_of(value: str) -> dt.datetime | None:
    try:
        stamp = int(value)
    except ValueError:
        return None
    if not 0 < stamp < 2**33:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def _contact(form: ContactForm, language: str) -> online.ContactDetails:
    data = form.cleaned_data
    return online.ContactDetails(
        full_name=data["full_name"],
        email=data.get("email") or "",
        phone=data.get("phone") or "",
        preferred_language=language,
        pseudonym=bool(data.get("name_is_pseudonym")),
    )


def _manage_url(clinic: Clinic, token: str, **query: str) -> str:
    url = reverse("book:manage", kwargs={"clinic_slug": clinic.slug, "token": token})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


# --- Booking --------------------------------------------------------------------------------


@require_GET
@public_page
@transaction.non_atomic_requests
def services_page(request: HttpRequest, clinic: Clinic) -> HttpResponse:
    services = (
        list(Service.objects.filter(online_bookable=True, archived=False).order_by("name"))
        if clinic.online_booking
        else []
    )
    for service in services:
        service.price_display = (
            f"{number_format(Decimal(service.price_cents) / 100, 2)} {service.currency}"
            if service.price_cents
            else ""
        )
    return render(request, "book/services.html", _context(request, clinic, services=services))


@require_GET
@public_page
@transaction.non_atomic_requests
def service_page(request: HttpRequest, clinic: Clinic, service_id: int) -> HttpResponse:
    service = _service(clinic, service_id)
    choices = _staff_choices(service)
    staff = _chosen_staff(request, choices)
    ctx = _context(request, clinic, service=service, choices=choices, staff=staff)
    if staff == "":
        return render(request, "book/staff.html", ctx)
    assert not isinstance(staff, str)
    ctx.update(_calendar_context(request, clinic, service, staff))
    ctx["staff_param"] = str(staff.pk) if staff else "any"
    ctx["multiple_staff"] = len(choices) > 1
    return render(request, "book/calendar.html", ctx)


def _notice_context(clinic: Clinic) -> dict[str, Any]:
    notice = privacy_notice_current(clinic=clinic) if clinic.require_consent else None
    return {"notice": notice}


@require_http_methods(["GET", "POST"])
@public_page
@transaction.non_atomic_requests  # the booking commits on its own, before any call to Stripe
def details_page(request: HttpRequest, clinic: Clinic, service_id: int) -> HttpResponse:
    service = _service(clinic, service_id)
    choices = _staff_choices(service)
    staff = _chosen_staff(request, choices)
    start = _start_of(request.POST.get("start") or request.GET.get("start", ""))
    if staff == "" or start is None:
        return redirect("book:service", clinic_slug=clinic.slug, service_id=service.pk)
    assert not isinstance(staff, str)
    language = request.book_language  # type: ignore[attr-defined]
    notice = _notice_context(clinic)["notice"]
    form = ContactForm(
        request.POST or None,
        clinic=clinic,
        purpose=f"book:{service.pk}",
        initial={"ticket": new_ticket(f"book:{service.pk}"), "notice": notice and notice.pk},
    )
    ctx = _context(
        request,
        clinic,
        service=service,
        staff=staff,
        staff_param=str(staff.pk) if staff else "any",
        start=start,
        start_stamp=int(start.timestamp()),
        form=form,
        notice=notice,
    )
    if request.method == "GET":
        return render(request, "book/details.html", ctx)
    if not form.is_valid():
        return render(request, "book/details.html", ctx, status=400)
    assert form.ticket_data is not None
    try:
        appointment, token, payment = online.online_book(
            clinic=clinic,
            service=service,
            staff=staff,
            start=start,
            contact=_contact(form, language),
            consent=bool(form.cleaned_data.get("consent")),
            notice_id=form.cleaned_data.get("notice"),
            idempotency_key=f"online:{form.ticket_data['k']}",
        )
    except SlotTaken:
        # A stale page: say so, and show the times still free that day.
        day = start.astimezone(ZoneInfo(clinic.time_zone)).date()
        ctx.update(_calendar_context(request, clinic, service, staff, show_day=day))
        ctx.update(taken=True, multiple_staff=len(choices) > 1)
        return render(request, "book/calendar.html", ctx, status=409)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render(request, "book/details.html", ctx, status=400)
    except ServiceError as exc:
        form.add_error(None, _public_message(exc))
        return render(request, "book/details.html", ctx, status=409)
    if payment is not None:  # the time is held: on to Stripe's page to pay
        return _to_checkout(request, clinic, payment)
    if appointment.status != Status.CONFIRMED:  # the same form again, for one since changed
        return redirect(_manage_url(clinic, token, lang=language), permanent=False)
    return redirect(_manage_url(clinic, token, new="1", lang=language), permanent=False)


# --- Paying online (issue 10) --------------------------------------------------------------------


def _to_checkout(request: HttpRequest, clinic: Clinic, payment: Payment) -> HttpResponse:
    """To Stripe's Checkout page; if Stripe cannot be reached, a page that says the time is
    held and offers to try again."""
    try:
        url = payment_services.checkout_start(clinic=clinic, payment=payment)
    except payment_gateway.GatewayError as exc:
        logger.warning("checkout could not start", extra={"error": exc.code})
        return _payment_page(request, clinic, payment, status=503, failed=True)
    except ServiceError:
        return _payment_page(request, clinic, payment, status=410)
    return redirect(url)


def _payment_page(
    request: HttpRequest,
    clinic: Clinic,
    payment: Payment,
    *,
    status: int = 200,
    failed: bool = False,
) -> HttpResponse:
    appointment = Appointment.objects.select_related("service", "staff").get(
        pk=payment.appointment_id
    )
    now = timezone.now()
    held = (
        appointment.status == Status.PENDING
        and appointment.hold_until is not None
        and appointment.hold_until > now
        and payment.status == PaymentStatus.PENDING
    )
    ctx = _context(
        request,
        clinic,
        payment=payment,
        appointment=appointment,
        held=held,
        minutes_left=max(1, int((appointment.hold_until - now).total_seconds() // 60))
        if held and appointment.hold_until
        else 0,
        failed=failed,
        confirmed=appointment.status == Status.CONFIRMED and payment.status == PaymentStatus.PAID,
        amount=f"{number_format(Decimal(payment.amount_cents) / 100, 2)} {payment.currency}",
    )
    template = "book/payment.html"
    if request.headers.get("HX-Request") and not failed:
        template += "#status"
    return render(request, template, ctx, status=status)


@require_GET
@public_page
def payment_page(request: HttpRequest, clinic: Clinic, payment_id: uuid.UUID) -> HttpResponse:
    """Where Stripe sends the client back (paid or not): the booking's state, which the page
    refreshes until Stripe's confirmation is in. The payment's id is the only key: it says
    nothing about the client, and the page shows nothing of theirs."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise Http404
    return _payment_page(request, clinic, payment)


@require_POST
@public_page
@transaction.non_atomic_requests  # no transaction open while Stripe is asked
def payment_start(request: HttpRequest, clinic: Clinic, payment_id: uuid.UUID) -> HttpResponse:
    """Try again to open Stripe's page for a held time."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise Http404
    return _to_checkout(request, clinic, payment)


@require_http_methods(["GET", "POST"])
@public_page
def waitlist_page(request: HttpRequest, clinic: Clinic, service_id: int) -> HttpResponse:
    service = _service(clinic, service_id)
    choices = _staff_choices(service)
    staff = _chosen_staff(request, choices)
    staff = None if staff == "" else staff
    assert not isinstance(staff, str)
    today = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date()
    notice = _notice_context(clinic)["notice"]
    form = WaitlistForm(
        request.POST or None,
        clinic=clinic,
        purpose=f"waitlist:{service.pk}",
        initial={
            "ticket": new_ticket(f"waitlist:{service.pk}"),
            "notice": notice and notice.pk,
            "first_day": _day_of(request, "from") or today,
            "last_day": (_day_of(request, "from") or today) + dt.timedelta(days=14),
        },
    )
    ctx = _context(
        request,
        clinic,
        service=service,
        staff=staff,
        staff_param=str(staff.pk) if staff else "any",
        form=form,
        notice=notice,
    )
    if request.method == "GET":
        return render(request, "book/waitlist.html", ctx)
    if form.is_valid():
        data = form.cleaned_data
        if data["first_day"] < today:
            form.add_error("first_day", _("Choose today or a later day."))
        else:
            try:
                _entry, token = online.online_waitlist_join(
                    clinic=clinic,
                    service=service,
                    staff=staff,
                    first_day=data["first_day"],
                    last_day=data["last_day"],
                    contact=_contact(form, request.book_language),  # type: ignore[attr-defined]
                    consent=bool(data.get("consent")),
                    notice_id=data.get("notice"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                url = reverse(
                    "book:waitlist-manage", kwargs={"clinic_slug": clinic.slug, "token": token}
                )
                return redirect(f"{url}?new=1&lang={request.book_language}")  # type: ignore[attr-defined]
    return render(request, "book/waitlist.html", ctx, status=400)


@require_GET
@public_page
@transaction.non_atomic_requests
def privacy_page(request: HttpRequest, clinic: Clinic) -> HttpResponse:
    notice = privacy_notice_current(clinic=clinic)
    return render(request, "book/privacy.html", _context(request, clinic, notice=notice))


# --- The manage link ------------------------------------------------------------------------


def _link_gone(request: HttpRequest, clinic: Clinic) -> HttpResponse:
    return render(request, "book/link_gone.html", _context(request, clinic), status=404)


def _manage_context(
    request: HttpRequest, clinic: Clinic, appointment: Appointment, token: str
) -> dict[str, Any]:
    notice = dt.timedelta(minutes=appointment.service.cancel_notice_min)
    upcoming = manage_links.is_upcoming(appointment)
    in_window = appointment.start - timezone.now() >= notice
    move_notice = dt.timedelta(minutes=appointment.service.reschedule_notice_min)
    return _context(
        request,
        clinic,
        appointment=appointment,
        token=token,
        new=request.GET.get("new") == "1",
        upcoming=upcoming,
        can_cancel=upcoming and in_window,
        can_move=upcoming and appointment.start - timezone.now() >= move_notice,
        location=appointment.room.location if appointment.room else None,
        manage_url=request.build_absolute_uri(_manage_url(clinic, token)),
    )


@require_GET
@public_page
@transaction.non_atomic_requests
def manage_page(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    appointment = manage_links.appointment_by_token(token)
    if appointment is None:
        return _link_gone(request, clinic)
    response = render(
        request, "book/manage.html", _manage_context(request, clinic, appointment, token)
    )
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to linked sites
    return response


@require_POST
@public_page
def manage_cancel(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    appointment = manage_links.appointment_by_token(token)
    if appointment is None:
        return _link_gone(request, clinic)
    try:
        online.online_cancel(appointment=appointment)
    except ServiceError as exc:
        ctx = _manage_context(request, clinic, appointment, token)
        ctx["error"] = exc.message
        return render(request, "book/manage.html", ctx, status=409)
    return redirect(_manage_url(clinic, token, cancelled="1", lang=request.book_language))  # type: ignore[attr-defined]


@require_POST
@public_page
def manage_privacy(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    """The client asks for a copy of their data, or its erasure (P17): a request the clinic
    answers within a month. The link is the proof of who asks."""
    from bookwell.privacy.services import subject_request_from_link

    appointment = manage_links.appointment_by_token(token)
    if appointment is None:
        return _link_gone(request, clinic)
    kind = request.POST.get("kind", "")
    if appointment.client is None or kind not in ("access", "erasure"):
        ctx = _manage_context(request, clinic, appointment, token)
        ctx["error"] = _("This request cannot be sent from here. Please contact the clinic.")
        return render(request, "book/manage.html", ctx, status=400)
    subject_request_from_link(clinic=clinic, client=appointment.client, kind=kind)
    return redirect(_manage_url(clinic, token, asked=kind, lang=request.book_language))  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@public_page
def manage_reschedule(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    appointment = manage_links.appointment_by_token(token)
    if appointment is None:
        return _link_gone(request, clinic)
    ctx = _manage_context(request, clinic, appointment, token)
    if not ctx["can_move"]:
        ctx["error"] = _("It is too late to move this appointment online. Please call the clinic.")
        return render(request, "book/manage.html", ctx, status=409)
    status = 200
    if request.method == "POST":
        start = _start_of(request.POST.get("start", ""))
        if start is not None:
            try:
                online.online_reschedule(appointment=appointment, start=start)
            except SlotTaken:
                ctx["taken"] = True
                status = 409
            except ServiceError as exc:
                ctx["error"] = exc.message
                status = 409
            else:
                return redirect(
                    _manage_url(clinic, token, moved="1", lang=request.book_language)  # type: ignore[attr-defined]
                )
        else:
            ctx["error"] = _("Choose a time.")
            status = 400
    ctx.update(
        _calendar_context(
            request, clinic, appointment.service, appointment.staff, exclude=appointment
        )
    )
    response = render(request, "book/reschedule.html", ctx, status=status)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@public_page
@transaction.non_atomic_requests
def manage_ics(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    appointment = manage_links.appointment_by_token(token)
    if appointment is None:
        return _link_gone(request, clinic)
    body = ics.appointment_ics(
        appointment=appointment,
        clinic=clinic,
        manage_url=request.build_absolute_uri(_manage_url(clinic, token)),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


@require_http_methods(["GET", "POST"])
@public_page
def waitlist_manage(request: HttpRequest, clinic: Clinic, token: str) -> HttpResponse:
    entry = manage_links.waitlist_entry_by_token(token)
    if entry is None:
        return _link_gone(request, clinic)
    offers = list(
        WaitlistOffer.objects.filter(
            entry=entry, status=OfferStatus.OPEN, expires_at__gt=timezone.now()
        )
        .select_related("staff")
        .order_by("start")
    )
    ctx = _context(request, clinic, entry=entry, offers=offers, token=token)
    ctx["new"] = request.GET.get("new") == "1"
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "leave":
            online.online_waitlist_leave(entry=entry)
            url = reverse(
                "book:waitlist-manage", kwargs={"clinic_slug": clinic.slug, "token": token}
            )
            return redirect(f"{url}?lang={request.book_language}")  # type: ignore[attr-defined]
        offer = next((o for o in offers if str(o.pk) == request.POST.get("offer")), None)
        if action == "accept" and offer is not None:
            try:
                _appointment, new_token = online.online_offer_accept(entry=entry, offer=offer)
            except ServiceError as exc:
                ctx["error"] = _public_message(exc)
                if exc.code != "plan_limit_reached":  # that offer has closed
                    ctx["offers"] = [o for o in offers if o.pk != offer.pk]
                status = 409
            else:
                return redirect(
                    _manage_url(clinic, new_token, new="1", lang=request.book_language)  # type: ignore[attr-defined]
                )
        else:
            ctx["error"] = _("This offer is no longer open.")
            status = 409
    response = render(request, "book/waitlist_manage.html", ctx, status=status)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@public_page
@transaction.non_atomic_requests
def theme_css(request: HttpRequest, clinic: Clinic) -> HttpResponse:
    """The clinic's colour as a stylesheet (the CSP allows no inline styles)."""
    colour = clinic.brand_colour if re.fullmatch(r"#[0-9a-fA-F]{6}", clinic.brand_colour) else ""
    body = f":root {{ --brand: {colour}; }}\n" if colour else ""
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@public_page
@transaction.non_atomic_requests
def logo(request: HttpRequest, clinic: Clinic) -> HttpResponse:
    """The clinic's logo, served with the type recognised at upload and never sniffed."""
    if not clinic.logo or not clinic.logo_content_type:
        raise Http404("No logo")
    data = bytes(clinic.logo)
    response = HttpResponse(data, content_type=clinic.logo_content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["ETag"] = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    return response
