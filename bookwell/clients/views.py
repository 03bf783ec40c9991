"""Client pages: list and search, create, edit, detail, CSV import and export."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from bookwell.accounts.models import User
from bookwell.audit.middleware import same_request
from bookwell.audit.models import Action
from bookwell.audit.services import audit
from bookwell.bookings.selectors import client_appointments, client_waitlist
from bookwell.clients import csv_io, services
from bookwell.clients.forms import ClientForm, ImportForm, PrivacyNoticeForm
from bookwell.clients.models import Client, PrivacyNotice
from bookwell.clients.selectors import ClientSearch, client_list, client_search
from bookwell.core.access import access_in_clinic
from bookwell.core.context import clinic_context
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import usage_count
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.permissions import Perm

PAGE_SIZE = 25
logger = logging.getLogger(__name__)


def _client(request: HttpRequest, client_id: uuid.UUID) -> Client:
    return access_in_clinic(Client, client_id)


@clinic_view(Perm.CLIENTS_VIEW)
def client_index(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    query = request.GET.get("q", "")[:200]
    results: ClientSearch | QuerySet[Client] = (
        client_search(clinic=clinic, query=query) if query.strip() else client_list(clinic=clinic)
    )
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"page": page, "query": query}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "clients/list.html#results", ctx)
    return render(request, "clients/list.html", ctx)


@clinic_view(Perm.CLIENTS_EDIT)
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = ClientForm(request.POST or None, clinic=clinic)
    if request.method == "POST":
        if form.is_valid():
            try:
                actor = request.user if isinstance(request.user, User) else None
                client = services.client_create(clinic=clinic, data=form.to_input(), actor=actor)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Client added."))
                return redirect("clients:detail", clinic_slug=clinic.slug, client_id=client.pk)
        return render(request, "clients/form.html", {"form": form, "creating": True}, status=400)
    return render(request, "clients/form.html", {"form": form, "creating": True})


@clinic_view(Perm.CLIENTS_VIEW)
def client_detail(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    client = _client(request, client_id)
    services.client_viewed(client=client, via="page")
    consents = client.consents.select_related("notice").order_by("-given_at")
    notice = services.privacy_notice_current(clinic=request.clinic)  # type: ignore[attr-defined]
    return render(
        request,
        "clients/detail.html",
        {
            "client": client,
            "consents": consents,
            "current_notice": notice,
            "appointments": list(client_appointments(client_id=client.pk)),
            "waiting": list(client_waitlist(client_id=client.pk)),
            "now": timezone.now(),
        },
    )


@clinic_view(Perm.CLIENTS_EDIT)
@require_POST
def client_consent(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """Staff record that the client agreed to the current privacy notice (P18)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    client = _client(request, client_id)
    notice = services.privacy_notice_current(clinic=clinic)
    if notice is None or str(notice.pk) != request.POST.get("notice"):
        messages.error(
            request, _("The privacy notice changed; check the current version and try again.")
        )
        return redirect("clients:detail", clinic_slug=clinic.slug, client_id=client.pk)
    actor = request.user if isinstance(request.user, User) else None
    services.consent_record(
        clinic=clinic, client=client, notice=notice, method="staff", actor=actor
    )
    messages.success(
        request, _("Consent to version %(version)s recorded.") % {"version": notice.version}
    )
    return redirect("clients:detail", clinic_slug=clinic.slug, client_id=client.pk)


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def privacy_notices(request: HttpRequest) -> HttpResponse:
    """The clinic's privacy notice: its versions, and publishing a new one (P22)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    form = PrivacyNoticeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            actor = request.user if isinstance(request.user, User) else None
            effective = form.cleaned_data["effective_at"]
            if effective is not None and effective < timezone.now() - timedelta(minutes=5):
                form.add_error("effective_at", _("A new version cannot take effect in the past."))
            else:
                try:
                    notice = services.privacy_notice_publish(
                        clinic=clinic,
                        body=form.cleaned_data["body"],
                        actor=actor,
                        effective_at=effective,
                    )
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(
                        request, _("Version %(version)s published.") % {"version": notice.version}
                    )
                    return redirect("clients:privacy-notices", clinic_slug=clinic.slug)
        status = 400
    notices = PrivacyNotice.objects.order_by("-version").annotate(consent_count=Count("consents"))
    current = services.privacy_notice_current(clinic=clinic)
    return render(
        request,
        "clients/privacy_notices.html",
        {"form": form, "notices": notices, "current": current},
        status=status,
    )


@clinic_view(Perm.CLIENTS_EDIT)
@require_http_methods(["GET", "POST"])
def client_edit(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    client = _client(request, client_id)
    initial = {
        "full_name": client.full_name,
        "name_kind": client.name_kind,
        "email": client.email,
        "phone": client.phone,
        "date_of_birth": client.date_of_birth,
        "preferred_language": client.preferred_language,
        "note": client.note,
        "marketing_consent": client.marketing_consent,
    }
    form = ClientForm(request.POST or None, clinic=clinic, initial=initial)
    if request.method == "GET":
        services.client_viewed(client=client, via="edit")  # the form shows the whole record
    if request.method == "POST":
        if form.is_valid():
            try:
                services.client_update(
                    clinic=clinic, client=client, data=form.to_input(existing=client)
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Client updated."))
                return redirect("clients:detail", clinic_slug=clinic.slug, client_id=client.pk)
        return render(request, "clients/form.html", {"form": form, "client": client}, status=400)
    return render(request, "clients/form.html", {"form": form, "client": client})


STREAM_IMPORT_ABOVE = 1000  # rows; larger imports show their progress as they run
STREAM_MARK, REPORT_MARK = "<!--progress-->", "<!--report-->"


def _streamed_import(
    request: HttpRequest,
    ctx: dict[str, object],
    *,
    data: bytes,
    skip_duplicates: bool,
    commit: bool,
) -> StreamingHttpResponse:
    """The import page, sent while the import runs: a progress bar, then the report.

    The browser shows each part as it arrives (no script needed). The import is still one
    transaction: all rows or none.
    """
    clinic = request.clinic  # type: ignore[attr-defined]
    page = render_to_string("clients/import.html", {**ctx, "streaming": True}, request=request)
    head, rest = page.split(STREAM_MARK, 1)
    between, tail = rest.split(REPORT_MARK, 1)

    def body() -> Iterator[str]:
        yield head
        # The body runs after the view has returned: the clinic and the request again.
        with clinic_context(clinic), same_request(request):
            steps = csv_io.import_steps(
                clinic=clinic, data=data, skip_duplicates=skip_duplicates, commit=commit
            )
            try:
                while True:
                    step = next(steps)
                    yield render_to_string("clients/import.html#progress", {"step": step})
            except StopIteration as finished:
                report = finished.value
            except Exception as exc:  # the class only: its text could hold imported values
                logger.error("client import failed", extra={"error": type(exc).__name__})
                report = None
        yield between
        if report is None:
            failed = escape(_("The import failed and nothing was imported."))
            yield f'<p class="message error">{failed}</p>'
        else:
            yield render_to_string(
                "clients/import.html#report",
                {**ctx, "report": report, "committed": commit and report.ok},
                request=request,
            )
        yield tail

    response = StreamingHttpResponse(body(), content_type="text/html; charset=utf-8")
    response["X-Accel-Buffering"] = "no"  # nginx: pass each part on at once
    response["Cache-Control"] = "no-store"
    return response


@clinic_view(Perm.CLIENTS_IMPORT)
@require_http_methods(["GET", "POST"])
def client_import(request: HttpRequest) -> HttpResponseBase:
    """Upload with "Check" (a preview that writes nothing) or "Import" (all rows or none)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    form = ImportForm(request.POST or None, request.FILES or None)
    ctx: dict[str, object] = {"form": form}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "clients/import.html", ctx, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > csv_io.MAX_BYTES:
            form.add_error(
                "file",
                _("The file is larger than %(mb)s MB. Split it.")
                % {"mb": csv_io.MAX_BYTES // (1024 * 1024)},
            )
            return render(request, "clients/import.html", ctx, status=400)
        commit = request.POST.get("action") == "import"
        data = upload.read()
        skip = form.cleaned_data["skip_duplicates"]
        try:
            if csv_io.count_rows(data) > STREAM_IMPORT_ABOVE:
                return _streamed_import(
                    request, ctx, data=data, skip_duplicates=skip, commit=commit
                )
            report = csv_io.import_clients(
                clinic=clinic, data=data, skip_duplicates=skip, commit=commit
            )
        except csv_io.ImportFileError as exc:
            form.add_error("file", str(exc))
            return render(request, "clients/import.html", ctx, status=400)
        ctx.update(report=report, committed=commit and report.ok)
        if commit and report.ok:
            done = ngettext("Imported %(n)d client.", "Imported %(n)d clients.", report.imported)
            messages.success(request, done % {"n": report.imported})
        return render(request, "clients/import.html", ctx, status=200 if report.ok else 400)
    return render(request, "clients/import.html", ctx)


@clinic_view(Perm.CLIENTS_EXPORT)
def client_export(request: HttpRequest) -> StreamingHttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    audit(Action.CLIENTS_EXPORTED, clinic_id=clinic.pk)
    usage_count(Feature.CLIENT_EXPORT, clinic_id=clinic.pk)

    def rows() -> Iterator[str]:
        # The body is produced after the view has returned: enter the clinic again (P1; on
        # PostgreSQL its rows are invisible outside it).
        with clinic_context(clinic):
            clients = client_list(clinic=clinic).order_by("created_at", "pk")
            yield from csv_io.export_rows(clients.iterator(chunk_size=500))

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{clinic.slug}-clients-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
