"""The platform's privacy notice (P19, P22): public, versioned with effective dates, its
cookie statement the cookies really set, its sub-processors those this installation uses."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bookwell.privacy import platform
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db


def _page(client: Client) -> str:
    response = client.get("/privacy/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_notice_is_public_sets_no_cookie_and_is_linked_from_every_page(client):
    html = _page(client)
    assert client.cookies == {}
    current = platform.current_notice()
    assert f"Version {current.version}" in html
    assert client.get("/").content.decode().count('href="/privacy/"') == 1


def test_versions_are_unique_and_each_takes_effect_after_the_one_before():
    versions = platform.notice_versions()
    assert len({v.version for v in versions}) == len(versions)
    dates = [v.effective for v in versions]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert platform.current_notice() == versions[-1]


def test_the_cookie_statement_lists_exactly_the_cookies_a_signed_in_visit_sets(clinic_a):
    statement = set(re.findall(r'<code class="cookie-name">([^<]+)</code>', _page(Client())))
    assert statement == {c.name for c in platform.cookies()}
    # What signing in and using the staff pages really leaves in the browser.
    user = make_member(clinic_a)
    browser = Client(enforce_csrf_checks=False)
    browser.get("/signin/")
    browser.post("/signin/", {"email": user.email, "password": PASSWORD})
    browser.get(f"/c/{clinic_a.slug}/")
    browser.get(f"/c/{clinic_a.slug}/privacy/")
    assert {name for name, c in browser.cookies.items() if c.value} == statement


def test_sub_processors_follow_the_settings():
    with override_settings(SMS_PROVIDER="console"):
        sms = next(s for s in platform.subprocessors() if "SMS" in s.service)
        assert not sms.used and "Twilio" not in _page(Client())
    with override_settings(SMS_PROVIDER="twilio"):
        sms = next(s for s in platform.subprocessors() if "SMS" in s.service)
        assert sms.used and sms.provider == "Twilio"
        assert "Twilio" in _page(Client())


def test_retention_figures_are_the_settings():
    with override_settings(
        RETENTION_DELIVERY_DAYS=123, AUDIT_RAW_IP_DAYS=5, RETENTION_EXPIRED_HOLD_DAYS=17
    ):
        html = _page(Client())
    assert "123 days" in html and "5 days" in html
    assert "online payment that never came" in html and "17 days" in html
    assert settings.RETENTION_DELIVERY_DAYS != 123


def test_the_public_notice_names_the_mail_provider_never_the_smtp_host():
    mailers = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "smtp.internal.example"},
        }
    }
    with override_settings(EMAIL_DELIVERY="smtp", MAILERS=mailers, EMAIL_PROVIDER_NAME=""):
        html = _page(Client())
        assert "smtp.internal.example" not in html and "mail provider" in html
    with override_settings(EMAIL_DELIVERY="smtp", EMAIL_PROVIDER_NAME="Postmark"):
        assert "Postmark" in _page(Client())
