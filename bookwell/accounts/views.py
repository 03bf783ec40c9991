"""Sign-in, sign-out, password and second-factor pages (P3)."""

from __future__ import annotations

import logging
import time
from io import BytesIO
from urllib.parse import urlencode, urlsplit

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bookwell.accounts import services
from bookwell.accounts.forms import (
    CodeForm,
    MfaEnrolForm,
    PasswordConfirmForm,
    ResetRequestForm,
    SignInForm,
)
from bookwell.accounts.models import User
from bookwell.accounts.session import MFA_PENDING_KEY, start_authenticated_session
from bookwell.audit.models import Action
from bookwell.audit.services import Actor, audit_record
from bookwell.core.net import client_ip, network_of

logger = logging.getLogger(__name__)
MFA_ENROL_KEY = "bookwell_mfa_enrol_secret"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _locked_message(retry_after: int) -> str:
    minutes = max(1, (retry_after + 59) // 60)
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many attempts. For your security, try again in {minutes} {unit}, "
        "or reset your password."
    )


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    form = SignInForm(request.POST or None)
    ctx = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    if request.method == "POST":
        if form.is_valid():
            network = network_of(client_ip(request))
            result = services.signin_check_password(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                network=network,
            )
            if result.user is not None and result.needs_second_factor:
                request.session.cycle_key()
                request.session[MFA_PENDING_KEY] = {"user": result.user.pk, "at": int(time.time())}
                url = reverse("accounts:signin-verify")
                if ctx["next"]:
                    url += "?" + urlencode({"next": ctx["next"]})
                return redirect(url)
            if result.user is not None:
                start_authenticated_session(request, result.user, network=network)
                return redirect(_next_url(request))
            if result.lockout.locked:
                form.add_error(None, _locked_message(result.lockout.retry_after))
                return render(request, "accounts/signin.html", ctx, status=429)
            form.add_error(None, _("The email or password is not correct."))
        return render(request, "accounts/signin.html", ctx, status=400)
    return render(request, "accounts/signin.html", ctx)


@never_cache
@require_http_methods(["GET", "POST"])
def signin_verify(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(MFA_PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or time.time() - pending.get("at", 0) > settings.MFA_PENDING_TTL
    ):
        request.session.pop(MFA_PENDING_KEY, None)
        messages.info(request, _("Please sign in again."))
        return redirect("accounts:signin")
    user = User.objects.filter(pk=int(pending.get("user") or 0), is_active=True).first()
    if user is None:
        return redirect("accounts:signin")
    form = CodeForm(request.POST or None)
    ctx = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    if request.method == "POST":
        if form.is_valid():
            network = network_of(client_ip(request))
            if pending.get("reset"):
                # After a reset: no network lock applies, but this step allows a few tries only.
                pending["tries"] = int(pending.get("tries", 0)) + 1
                request.session[MFA_PENDING_KEY] = pending
                if pending["tries"] > settings.SIGNIN_MAX_FAILURES:
                    request.session.pop(MFA_PENDING_KEY, None)
                    messages.error(request, _("Too many wrong codes. Please sign in again."))
                    return redirect("accounts:signin")
                result = services.signin_check_second_factor(
                    user=user, code=form.cleaned_data["code"], network=network, enforce_lock=False
                )
            else:
                result = services.signin_check_second_factor(
                    user=user, code=form.cleaned_data["code"], network=network
                )
            if result.user is not None:
                request.session.pop(MFA_PENDING_KEY, None)
                start_authenticated_session(request, user, network=network)
                return redirect(_next_url(request))
            if result.lockout.locked:
                request.session.pop(MFA_PENDING_KEY, None)
                form.add_error(None, _locked_message(result.lockout.retry_after))
                return render(request, "accounts/signin_verify.html", ctx, status=429)
            form.add_error("code", _("That code is not valid. Codes can be used only once."))
        return render(request, "accounts/signin_verify.html", ctx, status=400)
    return render(request, "accounts/signin_verify.html", ctx)


def _audit_signout(request: HttpRequest, action: str) -> None:
    audit_record(action=action, actor=Actor.user(request.user), request=request)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        _audit_signout(request, Action.SIGNOUT)
    logout(request)
    messages.success(request, _("You are signed out."))
    return redirect("accounts:signin")


@login_required
@require_POST
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    services.sign_out_everywhere(user=request.user)  # type: ignore[arg-type]
    _audit_signout(request, Action.SIGNOUT_EVERYWHERE)
    logout(request)
    messages.success(request, _("You are signed out on every device."))
    return redirect("accounts:signin")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {"recovery_left": services.recovery_codes_left(user=user) if user.mfa_enabled else 0},  # type: ignore[arg-type, union-attr]
    )


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            services.password_changed(user=user)
            # Keeps this session; every other session ends (the hash includes the password).
            update_session_auth_hash(request, user)
            messages.success(
                request, _("Your password was changed. Other sessions were signed out.")
            )
            return redirect("accounts:account")
        return render(request, "accounts/password_change.html", {"form": form}, status=400)
    return render(request, "accounts/password_change.html", {"form": form})


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            # Same answer whether or not the account exists (and whether the mail went out).
            try:
                form.save(
                    request=request,
                    # The link is built from the configured address, never the Host header.
                    domain_override=urlsplit(settings.BASE_URL).netloc,
                    use_https=urlsplit(settings.BASE_URL).scheme == "https",
                    subject_template_name="emails/password_reset_subject.txt",
                    email_template_name="emails/password_reset.txt",
                )
            except Exception as exc:  # the class only: its text could name the address
                logger.error(
                    "password reset email could not be sent",
                    extra={"email_kind": "password_reset", "error": type(exc).__name__},
                )
            return redirect("accounts:password-reset-sent")
        return render(request, "accounts/password_reset.html", {"form": form}, status=400)
    return render(request, "accounts/password_reset.html", {"form": form})


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_sent.html")


RESET_SESSION_KEY = "bookwell_reset_token"
RESET_URL_TOKEN = "set-password"


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != RESET_URL_TOKEN:
        # Move the token into the session so it leaves the address bar (Referer, history).
        request.session[RESET_SESSION_KEY] = token
        return redirect("accounts:password-reset-confirm", uidb64=uidb64, token=RESET_URL_TOKEN)
    try:
        user = User.objects.filter(pk=int(urlsafe_base64_decode(uidb64).decode())).first()
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        user = None
    session_token = request.session.get(RESET_SESSION_KEY, "")
    if user is None or not default_token_generator.check_token(user, session_token):
        return render(request, "accounts/password_reset_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            form.save()  # a new password hash: the token stops working (single use)
            request.session.pop(RESET_SESSION_KEY, None)
            network = network_of(client_ip(request))
            services.password_reset_completed(user=user, network=network)
            # The emailed link proved control of the mailbox: sign in now, whatever lock an
            # attacker may hold elsewhere (P3). A second factor is still asked for.
            if user.mfa_enabled:
                request.session.cycle_key()
                request.session[MFA_PENDING_KEY] = {
                    "user": user.pk,
                    "at": int(time.time()),
                    "reset": True,
                    "tries": 0,
                }
                messages.success(request, _("Your password was set. Now enter your code."))
                return redirect("accounts:signin-verify")
            start_authenticated_session(request, user, network=network)
            messages.success(request, _("Your password was set and you are signed in."))
            return redirect(settings.LOGIN_REDIRECT_URL)
        return render(request, "accounts/password_reset_confirm.html", {"form": form}, status=400)
    return render(request, "accounts/password_reset_confirm.html", {"form": form})


def _qr_svg(data: str) -> str:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def mfa(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan, confirm with a code, receive recovery codes."""
    user: User = request.user  # type: ignore[assignment]
    if user.mfa_enabled:
        return render(
            request,
            "accounts/mfa_enabled.html",
            {"recovery_left": services.recovery_codes_left(user=user)},
        )
    secret = request.session.get(MFA_ENROL_KEY)
    if not secret:
        secret = services.totp_new_secret()
        request.session[MFA_ENROL_KEY] = secret
    form = MfaEnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not user.check_password(form.cleaned_data["password"]):
            form.add_error("password", _("Your password was not correct."))
            codes = None
        else:
            codes = services.mfa_enable(user=user, secret=secret, code=form.cleaned_data["code"])
        if codes is not None:
            request.session.pop(MFA_ENROL_KEY, None)
            update_session_auth_hash(request, user)
            messages.success(request, _("Your authenticator app is set up."))
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": _next_url(request)},
            )
        elif not form.errors:
            form.add_error(
                "code", _("That code does not match. Check the time on your phone and try again.")
            )
    uri = services.totp_provisioning_uri(user=user, secret=secret)
    ctx = {
        "form": form,
        "secret": secret,
        "qr": mark_safe(_qr_svg(uri)),  # noqa: S308 (SVG we generate)
        "next": request.GET.get("next", ""),
    }
    return render(
        request, "accounts/mfa_setup.html", ctx, status=400 if request.method == "POST" else 200
    )


@sensitive_post_parameters()
@login_required
@require_POST
def mfa_disable(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordConfirmForm(request.POST)
    if form.is_valid() and user.check_password(form.cleaned_data["password"]):
        services.mfa_disable(user=user)
        messages.success(request, _("Two-step sign-in is off."))
        return redirect("accounts:account")
    messages.error(request, _("Your password was not correct; two-step sign-in stays on."))
    return redirect("accounts:mfa")


@sensitive_post_parameters()
@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordConfirmForm(request.POST)
    if (
        not user.mfa_enabled
        or not form.is_valid()
        or not user.check_password(form.cleaned_data["password"])
    ):
        messages.error(request, _("Your password was not correct."))
        return redirect("accounts:mfa")
    codes = services.recovery_codes_regenerate(user=user)
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "next": reverse("accounts:account")},
    )
