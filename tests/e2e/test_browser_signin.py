"""Sign in and out of the demo clinic in a real browser: cookies (P19), CSP (P14), sessions (P3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from bookwell.core.demo import DEMO_PASSWORD, DEMO_SLUG, DEMO_USERS, DemoUser, seed_demo
from bookwell.privacy import platform
from bookwell.tenancy.permissions import Role

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page
    from pytest_django.live_server_helper import LiveServer

    from tests.e2e.conftest import PageProblems

pytestmark = pytest.mark.e2e

HOME = f"/c/{DEMO_SLUG}/"


@pytest.fixture
def practitioner(transactional_db: None) -> DemoUser:
    seed_demo()
    return next(user for user in DEMO_USERS if user.role == Role.PRACTITIONER)


def _path(page: Page) -> str:
    return urlsplit(page.url).path


def _cookies(context: BrowserContext) -> dict[str, dict]:
    return {cookie["name"]: dict(cookie) for cookie in context.cookies()}


def _assert_bounced_to_signin(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok
    assert response.request.redirected_from is not None, "expected a redirect to sign-in"
    assert _path(page) == "/signin/"
    assert parse_qs(urlsplit(page.url).query).get("next") == [HOME]


def test_practitioner_signs_in_and_out_with_only_the_necessary_cookies(
    live_server: LiveServer,
    practitioner: DemoUser,
    context: BrowserContext,
    page: Page,
    page_problems: PageProblems,
) -> None:
    base = live_server.url

    # The public landing page sets no cookie at all (P19).
    response = page.goto(f"{base}/")
    assert response is not None and response.ok
    expect(page.get_by_role("heading", level=1)).to_have_text("Booking your clients can trust")
    assert context.cookies() == []

    # Sign in through the form.
    page.goto(f"{base}/signin/")
    form = page.locator("main form")
    form.get_by_label("Email:", exact=True).fill(practitioner.email)
    form.get_by_label("Password:", exact=True).fill(DEMO_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{HOME}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(practitioner.full_name)
    expect(page.locator("header.topbar")).to_contain_text(practitioner.full_name)
    # htmx loaded from /static/ under the CSP (script-src 'self').
    assert page.evaluate("() => typeof window.htmx") == "object"
    if shots := os.environ.get("BOOKWELL_E2E_SCREENSHOTS"):
        page.screenshot(path=Path(shots) / "home.png", full_page=True)

    # Exactly the cookies the privacy notice lists (the session and CSRF cookies), neither
    # readable by scripts, both SameSite=Lax.
    cookies = _cookies(context)
    assert set(cookies) == {c.name for c in platform.cookies()}
    assert set(cookies) == {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    for name, cookie in cookies.items():
        assert cookie["httpOnly"] is True, f"{name} is not HttpOnly"
        assert cookie["sameSite"] == "Lax", f"{name} is SameSite={cookie['sameSite']}"
    old_session = cookies[settings.SESSION_COOKIE_NAME]

    # Sign out from the header.
    page.locator("header form").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/signin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    # No session left, and the sign-out message's cookie was consumed by the sign-in page.
    assert set(_cookies(context)) == {settings.CSRF_COOKIE_NAME}

    # The clinic is closed again, and the old session cookie no longer opens it.
    _assert_bounced_to_signin(page, f"{base}{HOME}")
    context.add_cookies([old_session])  # type: ignore[list-item]
    _assert_bounced_to_signin(page, f"{base}{HOME}")

    assert page_problems.all() == []
