"""Staff shell, team and clinic settings; sign-up and invitations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookwell.accounts.models import User
from bookwell.accounts.session import start_authenticated_session
from bookwell.core.access import access_in_clinic
from bookwell.core.errors import ServiceError
from bookwell.core.forms import add_service_errors
from bookwell.core.net import client_ip, network_of
from bookwell.core.operator_views import operator_view
from bookwell.tenancy import plans, services
from bookwell.tenancy.access import clinic_view
from bookwell.tenancy.forms import (
    BookingRulesForm,
    BrandingForm,
    ClinicSettingsForm,
    EmbeddingForm,
    InvitationSignupForm,
    InviteForm,
    RoleForm,
    SignupForm,
)
from bookwell.tenancy.models import Clinic, Invitation, Membership
from bookwell.tenancy.permissions import ROLE_CHOICES, Perm
from bookwell.tenancy.selectors import memberships_for_user, open_invitations, team_members


@login_required
def choose_clinic(request: HttpRequest) -> HttpResponse:
    memberships = memberships_for_user(request.user)  # type: ignore[arg-type]
    if len(memberships) == 1:
        return redirect("tenancy:home", clinic_slug=memberships[0].clinic.slug)
    return render(request, "tenancy/choose.html", {"memberships": memberships})


@clinic_view(Perm.CLINIC_VIEW)
def home(request: HttpRequest) -> HttpResponse:
    """The overview: today, and the last 30 days as charts (counts only, no client)."""
    from bookwell.bookings.reports import overview

    clinic = request.clinic  # type: ignore[attr-defined]
    report = overview(clinic=clinic)
    width, height, gap = 600, 140, 2
    step = width / len(report.days)
    top = max(report.busiest, 1)
    bars = [
        {
            "x": round(i * step + gap / 2, 1),
            "width": round(step - gap, 1),
            "height": round(height * n / top, 1),
            "y": round(height - height * n / top, 1),
            "day": day,
            "n": n,
        }
        for i, (day, n) in enumerate(report.days)
    ]
    rows = [
        {"u": u, "width": round(4 * min(u.percent, 100), 1), "y": i * 28}
        for i, u in enumerate(report.utilisation)
    ]
    return render(
        request,
        "tenancy/home.html",
        {
            "report": report,
            "bars": bars,
            "chart_width": width,
            "chart_height": height,
            "top": top,
            "util_rows": rows,
            "util_height": max(28, 28 * len(rows)),
        },
    )


def _team_page(
    request: HttpRequest, *, invite_form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    return render(
        request,
        "tenancy/team.html",
        {
            "members": team_members(clinic=clinic),
            "invitations": open_invitations(clinic=clinic),
            "invite_form": invite_form or InviteForm(),
            "role_choices": ROLE_CHOICES,
        },
        status=status,
    )


@clinic_view(Perm.TEAM_VIEW)
def team(request: HttpRequest) -> HttpResponse:
    return _team_page(request)


@clinic_view(Perm.TEAM_MANAGE)
@require_POST
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.invitation_create(
                clinic=request.clinic,  # type: ignore[attr-defined]
                actor=request.membership,  # type: ignore[attr-defined]
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
            status = exc.status  # 403 for a role the actor may not grant, 409 for a member
        else:
            messages.success(request, _("Invitation sent."))
            return redirect("tenancy:team", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]
    return _team_page(request, invite_form=form, status=status)


def _refused(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    messages.error(request, exc.message)
    return _team_page(request, status=exc.status)


@clinic_view(Perm.TEAM_MANAGE)
@require_POST
def team_change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = access_in_clinic(
        Membership, membership_id, queryset=Membership.objects.select_related("user", "clinic")
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role from the list."))
        return _team_page(request, status=400)
    try:
        services.membership_change_role(
            actor=request.membership,  # type: ignore[attr-defined]
            membership=membership,
            role=form.cleaned_data["role"],
        )
    except ServiceError as exc:
        return _refused(request, exc)
    messages.success(request, _("Role changed."))
    return redirect("tenancy:team", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


@clinic_view(Perm.TEAM_MANAGE)
@require_POST
def team_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = access_in_clinic(
        Membership, membership_id, queryset=Membership.objects.select_related("clinic")
    )
    try:
        services.membership_remove(actor=request.membership, membership=membership)  # type: ignore[attr-defined]
    except ServiceError as exc:
        return _refused(request, exc)
    messages.success(request, _("Member removed."))
    if membership.user_id == request.user.pk:
        return redirect("tenancy:choose")
    return redirect("tenancy:team", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


@clinic_view(Perm.TEAM_MANAGE)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = access_in_clinic(Invitation, invitation_id)
    try:
        services.invitation_revoke(invitation=invitation)
    except ServiceError as exc:
        return _refused(request, exc)
    messages.success(request, _("Invitation withdrawn."))
    return redirect("tenancy:team", clinic_slug=request.clinic.slug)  # type: ignore[attr-defined]


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def clinic_settings(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = ClinicSettingsForm(request.POST or None, instance=clinic)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.clinic_settings_update(
                    clinic=clinic, **{k: form.cleaned_data[k] for k in form.changed_data}
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("tenancy:settings", clinic_slug=clinic.slug)
        clinic.refresh_from_db()
        return render(request, "tenancy/settings.html", {"form": form}, status=400)
    return render(request, "tenancy/settings.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user, clinic = services.signup_create_clinic(
                    email=data["email"],
                    full_name=data["full_name"],
                    password=data["password1"],
                    clinic_name=data["clinic_name"],
                    time_zone=data["time_zone"],
                    country=data["country"],
                )
            except ServiceError as exc:
                form.add_error("email" if exc.code == "conflict" else None, exc.message)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                start_authenticated_session(request, user, network=network_of(client_ip(request)))
                messages.success(
                    request,
                    _("Welcome to Bookwell. %(clinic)s is ready.") % {"clinic": clinic.name},
                )
                return redirect("tenancy:home", clinic_slug=clinic.slug)
        return render(request, "tenancy/signup.html", {"form": form}, status=400)
    return render(request, "tenancy/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: accept as the signed-in user, or create the account first."""
    try:
        inv = services.invitation_by_token(token)
        services.invitation_usable(inv)
    except ServiceError as exc:
        return render(
            request, "tenancy/invitation_invalid.html", {"message": exc.message}, status=exc.status
        )
    user = request.user if request.user.is_authenticated else None
    existing = User.objects.filter(email__iexact=inv.email).exists()
    form = InvitationSignupForm(request.POST or None) if (user is None and not existing) else None
    ctx = {"invitation": inv, "form": form, "existing": existing, "token": token}
    if request.method == "POST":
        try:
            if user is None and form is not None:
                if not form.is_valid():
                    return render(request, "tenancy/invitation.html", ctx, status=400)
                user, membership = services.invitation_signup(
                    token=token,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
                start_authenticated_session(request, user, network=network_of(client_ip(request)))
            elif user is None:
                return redirect(f"{reverse('accounts:signin')}?{urlencode({'next': request.path})}")
            else:
                membership = services.invitation_accept(token=token, user=user)
        except ServiceError as exc:
            ctx["error"] = exc.message
            return render(request, "tenancy/invitation.html", ctx, status=exc.status)
        messages.success(request, _("You joined %(clinic)s.") % {"clinic": inv.clinic.name})
        return redirect("tenancy:home", clinic_slug=membership.clinic.slug)
    return render(request, "tenancy/invitation.html", ctx)


# --- Booking rules, branding, embedding -----------------------------------------------------


def _settings_section(
    request: HttpRequest,
    *,
    form: Any,
    template: str,
    save: Callable[[], object],
    done: str,
    url_name: str,
) -> HttpResponse:
    """One settings section: show the form; on a valid post save through the service (its
    errors go to the form), then back to the section; on errors, 400 and nothing saved."""
    clinic = request.clinic  # type: ignore[attr-defined]
    if request.method == "POST":
        if form.is_valid():
            try:
                save()
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect(url_name, clinic_slug=clinic.slug)
        clinic.refresh_from_db()
        return render(request, template, {"form": form}, status=400)
    return render(request, template, {"form": form})


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_booking(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = BookingRulesForm(request.POST or None, instance=clinic)

    def save() -> object:
        changed = {k: form.cleaned_data[k] for k in form.changed_data if k != "apply_to_services"}
        return services.clinic_booking_rules_update(
            clinic=clinic, apply_to_services=form.cleaned_data["apply_to_services"], **changed
        )

    return _settings_section(
        request,
        form=form,
        template="tenancy/settings_booking.html",
        save=save,
        done="Booking rules saved.",
        url_name="tenancy:settings-booking",
    )


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_branding(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = BrandingForm(
        request.POST or None, request.FILES or None, initial={"brand_colour": clinic.brand_colour}
    )

    def save() -> object:
        upload = form.cleaned_data.get("logo")
        return services.clinic_branding_update(
            clinic=clinic,
            brand_colour=form.cleaned_data["brand_colour"],
            logo=upload.read(services.LOGO_MAX_BYTES + 1) if upload else None,
            remove_logo=form.cleaned_data["remove_logo"],
        )

    return _settings_section(
        request,
        form=form,
        template="tenancy/settings_branding.html",
        save=save,
        done="Branding saved.",
        url_name="tenancy:settings-branding",
    )


@clinic_view(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_embedding(request: HttpRequest) -> HttpResponse:
    clinic = request.clinic  # type: ignore[attr-defined]
    form = EmbeddingForm(request.POST or None, instance=clinic)
    return _settings_section(
        request,
        form=form,
        template="tenancy/settings_embedding.html",
        save=lambda: services.clinic_embedding_update(
            clinic=clinic, embed_origins=form.cleaned_data["embed_origins"]
        ),
        done="Embedding saved.",
        url_name="tenancy:settings-embedding",
    )


@clinic_view(Perm.CLINIC_SETTINGS)
@require_GET
def settings_plan(request: HttpRequest) -> HttpResponse:
    """The clinic's plan and what it has used of each allowance (P9)."""
    clinic = request.clinic  # type: ignore[attr-defined]
    return render(
        request,
        "tenancy/settings_plan.html",
        {"terms": plans.plan_of(clinic), "lines": plans.plan_usage(clinic)},
    )


@operator_view
@require_http_methods(["GET", "POST"])
def operator_clinics(request: HttpRequest) -> HttpResponse:
    """The operator's list of clinics and their plans; a plan is changed here (P9)."""
    if request.method == "POST":
        raw = str(request.POST.get("clinic", ""))
        clinic = Clinic.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
        if clinic is None:
            messages.error(request, _("There is no such clinic."))
            return redirect("operator-clinics")
        try:
            plans.clinic_plan_change(clinic=clinic, plan=request.POST.get("plan", ""))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(clinic)s is now on the %(plan)s plan.")
                % {"clinic": clinic.name, "plan": plans.plan_of(clinic).name},
            )
        return redirect("operator-clinics")
    return render(
        request,
        "tenancy/operator_clinics.html",
        {
            "clinics": list(Clinic.objects.order_by("name", "pk")),
            "plans": list(plans.plans().values()),
        },
    )
