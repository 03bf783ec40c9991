"""Clients' rights on the staff side (P17): a client's requests and what answers them, and the
clinic's list of requests by due date."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.accounts.models import User
from bookwell.clients.models import Client
from bookwell.core.access import access_in_clinic
from bookwell.core.errors import ServiceError
from bookwell.privacy import clinic_data, platform, services
from bookwell.privacy.forms import ClinicDeleteForm, EraseForm, LiftForm, RequestForm
from bookwell.privacy.models import RequestKind, RequestStatus, SubjectRequest
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm
from bookwell.tenancy.plans import plan_of


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _page(
    request: HttpRequest,
    client: Client,
    *,
    form: RequestForm | None = None,
    erase: EraseForm | None = None,
    lift: LiftForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "privacy/client.html",
        {
            "client": client,
            "requests": SubjectRequest.objects.filter(client=client).order_by("-received_on"),
            "form": form or RequestForm(initial={"received_on": timezone.localdate()}),
            "erase_form": erase or EraseForm(),
            "lift_form": lift or LiftForm(),
            "today": timezone.localdate(),
        },
        status=status,
    )


@clinic_view(Perm.CLIENTS_EDIT)
@require_http_methods(["GET", "POST"])
def client_privacy(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """The client's requests; front-line staff record one as it comes in."""
    clinic = request.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    if request.method == "GET":
        return _page(request, client)
    form = RequestForm(request.POST)
    if form.is_valid():
        try:
            services.subject_request_record(
                clinic=clinic,
                client=client,
                kind=form.cleaned_data["kind"],
                received_on=form.cleaned_data["received_on"],
                actor=_actor(request),
            )
        except ServiceError as exc:
            form.add_error("received_on", exc.message)
        else:
            messages.success(request, _("Request recorded."))
            return redirect("privacy:client", clinic_slug=clinic.slug, client_id=client.pk)
    return _page(request, client, form=form, status=400)


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_GET
def client_copy(request: HttpRequest, client_id: uuid.UUID, fmt: str) -> HttpResponse:
    """Everything held about the client, as JSON or a zip of CSV files (access, portability)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    body, media = services.client_copy_download(clinic=clinic, client=client, fmt=fmt)
    response = HttpResponse(body, content_type=media)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_POST
def client_restrict(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    try:
        services.client_restrict(
            clinic=clinic,
            client=client,
            actor=_actor(request),
            request=services.open_request(client, RequestKind.RESTRICTION),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Processing restricted: the record is read-only now."))
    return redirect("privacy:client", clinic_slug=clinic.slug, client_id=client.pk)


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_POST
def client_unrestrict(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    form = LiftForm(request.POST)
    if not form.is_valid():
        return _page(request, client, lift=form, status=400)
    try:
        services.client_unrestrict(
            clinic=clinic,
            client=client,
            client_told=form.cleaned_data["client_told"],
            actor=_actor(request),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The restriction is lifted."))
    return redirect("privacy:client", clinic_slug=clinic.slug, client_id=client.pk)


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_POST
def client_erase(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    form = EraseForm(request.POST)
    if not form.is_valid():
        return _page(request, client, erase=form, status=400)
    try:
        services.client_erase(
            clinic=clinic,
            client=client,
            actor=_actor(request),
            request=services.open_request(client, RequestKind.ERASURE),
        )
    except ServiceError as exc:  # erased a moment ago (a second click)
        messages.error(request, exc.message)
        return redirect("privacy:requests", clinic_slug=clinic.slug)
    messages.success(request, _("The client's data is erased."))
    return redirect("privacy:requests", clinic_slug=clinic.slug)


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_POST
def request_close(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """Marks a request answered (access, portability, rectification) or withdrawn."""
    clinic = request.clinic  # type: ignore[attr-defined]
    subject = access_in_clinic(SubjectRequest, request_id)
    status = request.POST.get("status", RequestStatus.DONE)
    try:
        services.subject_request_close(
            clinic=clinic, request=subject, status=status, actor=_actor(request)
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Request closed."))
    if subject.client_id is not None and request.POST.get("back") == "client":
        return redirect("privacy:client", clinic_slug=clinic.slug, client_id=subject.client_id)
    return redirect("privacy:requests", clinic_slug=clinic.slug)


@clinic_view(Perm.CLIENTS_PRIVACY)
@require_GET
def requests(request: HttpRequest) -> HttpResponse:
    """Open requests by due date (overdue first), then the ones closed lately."""
    open_ = SubjectRequest.objects.filter(status=RequestStatus.OPEN).order_by("due_on")
    closed = SubjectRequest.objects.exclude(status=RequestStatus.OPEN).order_by("-completed_at")[
        :50
    ]
    return render(
        request,
        "privacy/requests.html",
        {
            "open": list(open_.select_related("client")),
            "closed": list(closed.select_related("client")),
            "today": timezone.localdate(),
        },
    )


# --- The owners' privacy center (the clinic's own data: P15, P16) -----------------------------


def _center(
    request: HttpRequest, *, status: int = 200, delete_form: ClinicDeleteForm | None = None
) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    exports = clinic_data.exports_recent(clinic)
    user = request.user
    context: dict[str, object] = {
        "exports": exports,
        "in_making": clinic_data.export_in_making(exports),
        "link_hours": settings.EXPORT_LINK_HOURS,
        "now": timezone.now(),
    }
    if request.htmx and request.GET.get("part") == "exports":  # type: ignore[attr-defined]
        return render(request, "privacy/center.html#exports", context, status=status)
    context |= {
        "delete_form": delete_form or ClinicDeleteForm(),
        "needs_code": isinstance(user, User) and user.mfa_enabled,
        "grace_days": settings.DELETION_GRACE_DAYS,
        "open_requests": list(
            SubjectRequest.objects.filter(status=RequestStatus.OPEN)
            .select_related("client")
            .order_by("due_on")
        ),
        "today": timezone.localdate(),
        "holdings": clinic_data.holdings(clinic),
        "subprocessors": platform.subprocessors(clinic),
        "retention": platform.retention(),
        "audit_days": plan_of(clinic).audit_retention_days,
    }
    return render(request, "privacy/center.html", context, status=status)


@clinic_view(Perm.CLINIC_DATA)
@require_GET
def center(request: HttpRequest) -> HttpResponse:
    """What the platform holds for the clinic, its export and its deletion."""
    return _center(request)


@clinic_view(Perm.CLINIC_DATA)
@require_POST
def export_create(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    try:
        clinic_data.clinic_export_request(clinic=clinic, actor=_actor(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The export is being made. This page shows when it is ready."))
    return redirect("privacy:center", clinic_slug=clinic.slug)


@clinic_view(Perm.CLINIC_DATA)
@require_GET
def export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    clinic = request.clinic  # type: ignore[attr-defined]
    try:
        export, body = clinic_data.clinic_export_open(clinic=clinic, export_id=export_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _center(request, status=exc.status)
    response = StreamingHttpResponse(body, content_type="application/zip")
    stamp = timezone.localtime(export.finished_at).strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{clinic.slug}-export-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("password", "code")
@clinic_view(Perm.CLINIC_DATA)
@require_POST
def clinic_delete(request: HttpRequest) -> HttpResponse:
    """The owner asks for the clinic to be deleted after the grace period."""
    clinic = request.clinic  # type: ignore[attr-defined]
    form = ClinicDeleteForm(request.POST)
    if form.is_valid():
        try:
            clinic_data.clinic_deletion_request(
                clinic=clinic,
                actor=request.user,  # type: ignore[arg-type]
                password=form.cleaned_data["password"],
                typed_name=form.cleaned_data["name"],
                code=form.cleaned_data["code"],
            )
        except clinic_data.FieldError as exc:
            form.add_error(exc.field, exc.message)
        except ServiceError as exc:  # one is pending already
            messages.error(request, exc.message)
            return redirect("privacy:center", clinic_slug=clinic.slug)
        else:
            messages.success(request, _("The clinic is scheduled for deletion."))
            return redirect("privacy:center", clinic_slug=clinic.slug)
    return _center(request, status=400, delete_form=form)


@clinic_view(Perm.CLINIC_DATA)
@require_POST
def clinic_delete_cancel(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    try:
        clinic_data.clinic_deletion_cancel(clinic=clinic, actor=_actor(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The deletion is cancelled. The clinic stays."))
    return redirect("privacy:center", clinic_slug=clinic.slug)


@require_GET
def platform_notice(request: HttpRequest) -> HttpResponse:
    """The platform's own privacy notice (public; sets no cookie)."""
    return render(
        request,
        "privacy/platform_notice.html",
        {
            "notice": platform.current_notice(),
            "versions": list(reversed(platform.notice_versions())),
            "cookies": platform.cookies(),
            "subprocessors": platform.subprocessors(),
            "retention": platform.retention(),
            "operator": settings.OPERATOR_NAME,
            "operator_contact": settings.OPERATOR_CONTACT,
        },
    )


@clinic_view(Perm.CLINIC_DATA)
@require_GET
def processing_record(request: HttpRequest) -> HttpResponse:
    """The clinic's record of processing activities (GDPR Art. 30), generated from what the
    clinic has set up, to download and complete."""
    clinic = request.clinic  # type: ignore[attr-defined]
    body = render_to_string(
        "privacy/processing_record.md",
        {
            "clinic": clinic,
            "operator": settings.OPERATOR_NAME,
            "operator_contact": settings.OPERATOR_CONTACT,
            "subprocessors": [s for s in platform.subprocessors(clinic) if s.used],
            "retention": platform.retention(),
            "audit_days": plan_of(clinic).audit_retention_days,
            "today": timezone.localdate(),
            "notice": platform.current_notice(),
        },
        request=request,
    )
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="{clinic.slug}-record-of-processing-{stamp}.md"'
    )
    response["Cache-Control"] = "no-store"
    return response
