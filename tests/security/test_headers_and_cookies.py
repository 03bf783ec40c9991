"""Security headers (P14) and minimal cookies (P19)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bookwell.tenancy.permissions import Role
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db


def test_pages_carry_a_strict_content_security_policy_and_friends(client):
    response = client.get("/signin/")

    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_pages_have_no_inline_scripts(client):
    body = client.get("/signin/").content.decode()
    assert "<script>" not in body and "<script " in body  # htmx by src only
    assert "onclick=" not in body and "style=" not in body


def test_the_landing_page_sets_no_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.cookies == {}


def test_after_sign_in_only_the_session_and_csrf_cookies_exist(clinic_a):
    user = make_member(clinic_a, Role.PRACTITIONER)
    client = Client()
    client.get("/signin/")
    client.post("/signin/", {"email": user.email, "password": PASSWORD})
    client.get("/c/clinic-a/")

    assert set(client.cookies) == {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert session["httponly"] and csrf["httponly"]
    assert session["samesite"] == "Lax" and csrf["samesite"] == "Lax"


@override_settings(
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
    SESSION_COOKIE_NAME="__Host-bookwell_session",
    CSRF_COOKIE_NAME="__Host-bookwell_csrf",
)
def test_production_cookie_settings_give_secure_host_cookies(clinic_a):
    # The same values the production profile sets (checked in test_deploy_settings.py).
    user = make_member(clinic_a, Role.PRACTITIONER)
    client = Client()
    client.get("/signin/", secure=True)
    client.post("/signin/", {"email": user.email, "password": PASSWORD}, secure=True)

    for name in ("__Host-bookwell_session", "__Host-bookwell_csrf"):
        cookie = client.cookies[name]
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert not cookie["domain"]


def test_after_sign_out_the_notice_is_shown_and_no_session_or_message_cookie_remains(clinic_a):
    user = make_member(clinic_a, Role.PRACTITIONER)
    client = Client()
    client.get("/signin/")
    client.post("/signin/", {"email": user.email, "password": PASSWORD})

    client.post("/signout/")
    page = client.get("/signin/")

    assert "You are signed out." in page.content.decode()
    live = {name for name, morsel in client.cookies.items() if morsel.value}
    assert live == {settings.CSRF_COOKIE_NAME}
