"""Staff pages: what was sent, failed or skipped (with resend); the clinic's message texts
with a preview; reminder rules, SMS and quiet hours."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from bookwell.core.access import access_in_clinic
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications import feeds as feeds_service
from bookwell.notifications import selectors, services, texts
from bookwell.notifications.forms import ReminderRuleForm, SendingForm, TemplateForm
from bookwell.notifications.models import (
    CLIENT_KINDS,
    CalendarFeed,
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    ReminderRule,
)
from bookwell.scheduling.models import StaffMember
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Perm


@clinic_view(Perm.NOTIFICATIONS_VIEW)
@require_http_methods(["GET"])
def deliveries(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    counts = selectors.delivery_counts()
    page = Paginator(selectors.deliveries(status=status or None), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/deliveries.html",
        {
            "page": page,
            "status": status,
            "statuses": [
                (value, label, counts.get(value, 0)) for value, label in DeliveryStatus.choices
            ],
            "resendable": {DeliveryStatus.FAILED, DeliveryStatus.SKIPPED},
        },
    )


@clinic_view(Perm.NOTIFICATIONS_VIEW)
@require_POST
def delivery_resend(request: HttpRequest, delivery_id: uuid.UUID) -> HttpResponse:
    delivery = access_in_clinic(Delivery, delivery_id)
    if delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
        services.delivery_resend(delivery=delivery)
        messages.success(request, _("It will be sent again in a moment."))
    return redirect("notifications:deliveries", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


def _languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


@clinic_view(Perm.NOTIFICATIONS_MANAGE)
@require_http_methods(["GET", "POST"])
def sending(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = SendingForm(request.POST or None, initial=_sending_initial(clinic), prefix="sending")
    rule_form = ReminderRuleForm(prefix="rule", initial={"amount": 24, "unit": "60"})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            services.clinic_sending_update(
                clinic=clinic,
                sms_enabled=form.cleaned_data["sms_enabled"],
                quiet_start=form.cleaned_data["quiet_start"],
                quiet_end=form.cleaned_data["quiet_end"],
                agenda_at=form.cleaned_data["agenda_at"],
            )
            messages.success(request, _("Settings saved."))
            return redirect("notifications:sending", clinic_slug=clinic.slug)
        status = 400
    return _sending_page(request, form, rule_form, status)


def _sending_initial(clinic: Clinic) -> dict[str, object]:
    """What the sending form shows: every setting it saves (a field left out would be
    cleared by the next save)."""
    return {name: getattr(clinic, name) for name in SendingForm.base_fields}


def _sending_page(
    request: HttpRequest, form: SendingForm, rule_form: ReminderRuleForm, status: int
) -> HttpResponse:
    return render(
        request,
        "notifications/sending.html",
        {"form": form, "rule_form": rule_form, "rules": list(selectors.reminder_rules())},
        status=status,
    )


@clinic_view(Perm.NOTIFICATIONS_MANAGE)
@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    rule_form = ReminderRuleForm(request.POST, prefix="rule")
    if rule_form.is_valid():
        services.reminder_rule_add(
            clinic=clinic,
            minutes_before=rule_form.cleaned_data["minutes_before"],
            channel=rule_form.cleaned_data["channel"],
        )
        messages.success(request, _("Reminder added."))
        return redirect("notifications:sending", clinic_slug=clinic.slug)
    form = SendingForm(initial=_sending_initial(clinic), prefix="sending")
    return _sending_page(request, form, rule_form, 400)


@clinic_view(Perm.NOTIFICATIONS_MANAGE)
@require_POST
def rule_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = access_in_clinic(ReminderRule, rule_id)
    services.reminder_rule_remove(rule=rule)
    messages.success(request, _("Reminder removed."))
    return redirect("notifications:sending", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


@clinic_view(Perm.NOTIFICATIONS_MANAGE)
@require_http_methods(["GET"])
def templates(request: HttpRequest) -> HttpResponse:
    own = selectors.own_templates()
    rows = [
        {
            "kind": kind,
            "kind_label": label,
            "channels": [
                {
                    "channel": channel,
                    "channel_label": channel_label,
                    "languages": [
                        (code, name, (kind, channel, code) in own) for code, name in _languages()
                    ],
                }
                for channel, channel_label in Channel.choices
            ],
        }
        for kind, label in Kind.choices
        if kind in CLIENT_KINDS
    ]
    return render(request, "notifications/templates.html", {"rows": rows})


@clinic_view(Perm.NOTIFICATIONS_MANAGE)
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, kind: str, channel: str, language: str) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    if (
        kind not in CLIENT_KINDS
        or channel not in Channel.values
        or language not in dict(_languages())
    ):
        raise Http404("No such message")
    own = selectors.own_templates().get((kind, channel, language))
    current = (
        texts.Wording(own.subject, own.body) if own else texts.built_in(kind, channel, language)
    )
    form = TemplateForm(
        request.POST or None,
        channel=channel,
        initial={"subject": current.subject, "body": current.body},
    )
    preview: tuple[str, str] | None = None
    status = 200
    action = request.POST.get("action", "preview")
    if request.method == "POST" and action == "reset":
        services.template_reset(clinic=clinic, kind=kind, channel=channel, language=language)
        messages.success(request, _("Back to the built-in text."))
        return redirect("notifications:templates", clinic_slug=clinic.slug)
    if request.method == "POST":
        if form.is_valid():
            subject = form.cleaned_data.get("subject", "")
            body = form.cleaned_data["body"]
            if action == "save":
                services.template_save(
                    clinic=clinic,
                    kind=kind,
                    channel=channel,
                    language=language,
                    subject=subject,
                    body=body,
                )
                messages.success(request, _("Saved. New messages use this text."))
                return redirect("notifications:templates", clinic_slug=clinic.slug)
            preview = services.preview(clinic=clinic, language=language, subject=subject, body=body)
        else:
            status = 400
    else:
        preview = services.preview(
            clinic=clinic, language=language, subject=current.subject, body=current.body
        )
    return render(
        request,
        "notifications/template_edit.html",
        {
            "form": form,
            "kind_label": Kind(kind).label,
            "channel_label": Channel(channel).label,
            "language_label": dict(_languages())[language],
            "is_own": own is not None,
            "preview": preview,
            "placeholders": texts.PLACEHOLDERS,
            "channel": channel,
        },
        status=status,
    )


# --- Calendar feeds -------------------------------------------------------------------------


def _live(members: list[StaffMember]) -> set[int]:
    with platform_scope("feeds of the listed staff members"):
        return set(
            CalendarFeed.objects.filter(staff__in=members, revoked_at__isnull=True).values_list(
                "staff_id", flat=True
            )
        )


def _feeds_page(
    request: HttpRequest, members: list[StaffMember], new_link: object, own: bool
) -> HttpResponse:
    response = render(
        request,
        "notifications/my_feeds.html" if own else "notifications/feeds.html",
        {
            "members": [(m, m.pk in _live(members)) for m in members],
            "new_link": new_link,
            "own": own,
        },
    )
    response["Cache-Control"] = "no-store"  # a new link is shown once
    return response


def _issue_or_revoke(request: HttpRequest, member: StaffMember) -> object:
    """Issues a new link (returned for display once) or revokes, as the form asked."""
    with clinic_context(member.clinic):
        if request.POST.get("action") == "revoke":
            feeds_service.feed_revoke(staff=member)
            messages.success(request, _("The calendar link no longer works."))
            return None
        token = feeds_service.feed_issue(clinic=member.clinic, staff=member)
    return (member, settings.BASE_URL + reverse("feed", kwargs={"token": token}))


@clinic_view(Perm.CATALOG_MANAGE)
@require_http_methods(["GET"])
def feeds(request: HttpRequest) -> HttpResponse:
    members = list(StaffMember.objects.filter(archived=False).order_by("display_name", "pk"))
    return _feeds_page(request, members, None, own=False)


@clinic_view(Perm.CATALOG_MANAGE)
@require_POST
def feed_issue(request: HttpRequest, staff_id: int) -> HttpResponse:
    member = access_in_clinic(StaffMember, staff_id)
    new_link = _issue_or_revoke(request, member)
    members = list(StaffMember.objects.filter(archived=False).order_by("display_name", "pk"))
    return _feeds_page(request, members, new_link, own=False)


def _own_staff(request: HttpRequest) -> list[StaffMember]:
    """The staff member rows linked to the signed-in user, in every clinic (a platform read
    limited to the user's own rows, like the clinic switcher)."""
    with platform_scope("a user's own staff member rows across clinics"):
        return list(
            StaffMember.objects.filter(user=request.user, archived=False)
            .filter(  # only in clinics they still belong to
                Exists(Membership.objects.filter(clinic=OuterRef("clinic"), user=request.user))
            )
            .select_related("clinic")
            .order_by("clinic__name", "pk")
        )


@login_required
@require_http_methods(["GET"])
def my_feeds(request: HttpRequest) -> HttpResponse:
    return _feeds_page(request, _own_staff(request), None, own=True)


@login_required
@require_POST
def my_feed_issue(request: HttpRequest, staff_id: int) -> HttpResponse:
    mine = _own_staff(request)
    member = next((m for m in mine if m.pk == staff_id), None)
    if member is None:
        raise Http404("No such staff member")
    new_link = _issue_or_revoke(request, member)
    return _feeds_page(request, mine, new_link, own=True)


@require_http_methods(["GET"])
@transaction.non_atomic_requests
def feed(request: HttpRequest, token: str) -> HttpResponse:
    body = feeds_service.feed_ics(token)
    if body is None:
        raise Http404("No such calendar")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["Referrer-Policy"] = "no-referrer"
    return response
