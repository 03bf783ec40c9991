"""The front desk in a real browser: a walk-in booked from an empty time in the calendar,
moved, marked arrived and completed; two screens stay in step; only the cookies P19 allows;
no serious accessibility problems on the main staff pages; screenshots kept."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from bookwell.accounts.models import User
from bookwell.bookings.models import (
    Appointment,
    Status,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from bookwell.clients.models import Client as ClientRecord
from bookwell.core.context import clinic_context
from bookwell.core.demo import DEMO_PASSWORD, DEMO_SLUG, seed_demo
from bookwell.privacy import platform
from bookwell.scheduling.models import StaffMember
from tests.e2e.conftest import DESKTOP, PHONE, new_context, watch
from tests.e2e.helpers import cookie_names, screenshot, serious_accessibility_problems

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route
    from pytest_django.live_server_helper import LiveServer

    from tests.e2e.conftest import PageProblems

pytestmark = pytest.mark.e2e

DESK = "desk@demo.bookwell.test"


@pytest.fixture
def demo(transactional_db: None):
    return seed_demo()


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/signin/")
    form = page.locator("main form")
    form.get_by_label("Email:", exact=True).fill(email)
    form.get_by_label("Password:", exact=True).fill(DEMO_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/c/{DEMO_SLUG}/")


def _free_day(clinic) -> dt.date:
    """A weekday four weeks ahead, beyond the demo's appointments around today."""
    day = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date() + dt.timedelta(days=28)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_front_desk_books_a_walk_in_moves_it_and_completes_it(
    live_server: LiveServer, browser: Browser, demo, page_problems: PageProblems
) -> None:
    base = live_server.url
    context = new_context(browser, page_problems, viewport={"width": 1440, "height": 900})
    page = watch(context.new_page(), page_problems)
    _sign_in(page, base, DESK)
    day = _free_day(demo)
    with clinic_context(demo):
        column_staff = (
            StaffMember.objects.filter(bookable=True, archived=False)
            .order_by("display_name", "pk")
            .first()
        )
        assert column_staff is not None
        before = Appointment.objects.count()

    page.goto(f"{base}/c/{DEMO_SLUG}/calendar/?date={day:%Y-%m-%d}")
    expect(page.locator(".cal-col").first).to_be_visible()
    assert serious_accessibility_problems(page) == [], "calendar"
    screenshot(page, "staff-1-calendar-day")

    # Click an empty time in the first staff member's column: 15:00 if the grid shows it.
    column = page.locator(f'.cal-col[data-staff="{column_staff.pk}"]')
    box = column.bounding_box()
    assert box is not None
    first = int(column.get_attribute("data-first") or "0")
    rows = int(column.get_attribute("data-rows") or "1")
    row = (15 * 60 - first) // 15
    page.mouse.click(box["x"] + 8, box["y"] + (row + 0.5) * box["height"] / rows)
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", name="New appointment")).to_be_visible()
    expect(panel.get_by_label("Time", exact=True)).to_have_value("15:00")
    panel.get_by_label("Service").select_option(label="Sports massage (45 min)")
    panel.get_by_label("New client").fill("Walk In Weber")
    panel.get_by_label("Phone").fill("+49 30 5550123")
    assert serious_accessibility_problems(page) == [], "booking panel"
    screenshot(page, "staff-2-booking-panel")
    panel.get_by_role("button", name="Book", exact=True).click()

    expect(panel.get_by_text("Booked.")).to_be_visible()
    expect(page.locator(".appt", has_text="Walk In Weber")).to_be_visible()  # grid refreshed
    with clinic_context(demo):
        assert Appointment.objects.count() == before + 1
        walk_in = Appointment.objects.order_by("-created_at").first()
        assert walk_in is not None
    zone = ZoneInfo(demo.time_zone)
    assert walk_in.start.astimezone(zone).time() == dt.time(15, 0)
    assert walk_in.staff_id == column_staff.pk

    # Move it to 16:30 from the panel.
    panel.get_by_text("Move", exact=True).first.click()
    panel.get_by_label("New time").fill("16:30")
    panel.get_by_role("button", name="Move").click()
    expect(panel.get_by_text("Moved.")).to_be_visible()
    with clinic_context(demo):
        walk_in.refresh_from_db()
    assert walk_in.start.astimezone(zone).time() == dt.time(16, 30)

    panel.get_by_role("button", name="Arrived").click()
    expect(panel.get_by_text("Status changed.")).to_be_visible()
    panel.get_by_role("button", name="Completed").click()
    expect(panel.locator(".status")).to_have_text("Completed")
    assert serious_accessibility_problems(page) == [], "appointment panel"
    screenshot(page, "staff-3-appointment-panel")
    with clinic_context(demo):
        walk_in.refresh_from_db()
    assert walk_in.status == Status.COMPLETED

    # Only the session and CSRF cookies, as the privacy notice's cookie statement says (P19).
    assert cookie_names(context) == sorted(
        [settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME]
    )
    assert cookie_names(context) == sorted(c.name for c in platform.cookies())
    assert page_problems.all() == []
    context.close()


def test_two_front_desk_screens_stay_in_step(
    live_server: LiveServer, browser: Browser, demo, page_problems: PageProblems
) -> None:
    base = live_server.url
    day = _free_day(demo)
    url = f"{base}/c/{DEMO_SLUG}/calendar/?date={day:%Y-%m-%d}"
    screens = []
    for _ in range(2):
        context = new_context(browser, page_problems, **DESKTOP)
        context.clock.install()  # timers run as usual, and a test can move them on
        page = watch(context.new_page(), page_problems)
        _sign_in(page, base, DESK)
        page.goto(url)
        screens.append(page)
    first, second = screens

    first.get_by_role("link", name="New appointment").click()
    panel = first.locator("#panel")
    panel.get_by_label("Time", exact=True).fill("17:15")
    panel.get_by_label("With").select_option(index=1)
    panel.get_by_label("Service").select_option(label="Sports massage (45 min)")
    panel.get_by_label("New client").fill("Second Screen Test")
    panel.get_by_role("button", name="Book", exact=True).click()
    expect(panel.get_by_text("Booked.")).to_be_visible()

    # The other screen refreshes when it regains focus (and every 30 s).
    expect(second.locator(".appt", has_text="Second Screen Test")).to_have_count(0)
    second.evaluate("() => window.dispatchEvent(new Event('focus'))")
    expect(second.locator(".appt", has_text="Second Screen Test")).to_be_visible()

    # Without focus: the next half-minute poll brings a change in.
    first.get_by_role("link", name="New appointment").click()
    panel.get_by_label("Time", exact=True).fill("18:15")
    panel.get_by_label("With").select_option(index=1)
    panel.get_by_label("Service").select_option(label="Sports massage (45 min)")
    panel.get_by_label("New client").fill("Polled Later")
    panel.get_by_role("button", name="Book", exact=True).click()
    expect(panel.get_by_text("Booked.")).to_be_visible()
    second.clock.run_for(15_000)
    second.wait_for_timeout(1_000)  # a refresh, had one started, would be back by now
    assert second.locator(".appt", has_text="Polled Later").count() == 0  # not yet
    second.clock.run_for(16_000)
    expect(second.locator(".appt", has_text="Polled Later")).to_be_visible()
    for page in screens:
        page.context.close()
    assert page_problems.all() == []


STAFF_PAGES = [
    "",
    "calendar/",
    "calendar/?view=week",
    "calendar/?by=room",
    "waitlist/",
    "clients/",
    "team/",
    "settings/",
    "settings/booking/",
    "settings/branding/",
    "settings/embedding/",
    "settings/plan/",
    "settings/api/",
    "settings/webhooks/",
    "audit/",
    "services/",
    "services/new/",
    "staff/",
    "locations/",
    "rooms/",
    "closures/",
    "first-staff-schedule",
    "first-client",
    "notifications/",
    "notifications/sending/",
    "notifications/texts/",
    "notifications/texts/reminder/email/en/",
    "calendar-links/",
    "settings/privacy-notice/",
]


def test_main_staff_pages_have_no_serious_accessibility_problems(
    live_server: LiveServer, browser: Browser, demo, page_problems: PageProblems
) -> None:
    # One signed-in owner walks every main page (one demo clinic: seeding it is the slow part).
    context = new_context(browser, page_problems, **DESKTOP)
    page = watch(context.new_page(), page_problems)
    _sign_in(page, live_server.url, "owner@demo.bookwell.test")
    with clinic_context(demo):
        first = StaffMember.objects.order_by("pk").first()
        assert first is not None
        client = ClientRecord.objects.order_by("pk").first()
        assert client is not None
    found: dict[str, list[str]] = {}
    for path in STAFF_PAGES:
        if path == "first-staff-schedule":
            path = f"staff/{first.pk}/schedule/"
        if path == "first-client":
            path = f"clients/{client.pk}/"
        response = page.goto(f"{live_server.url}/c/{DEMO_SLUG}/{path}")
        assert response is not None and response.status == 200, path
        found[path] = serious_accessibility_problems(page)
        screenshot(page, f"staff-page-{path.strip('/').replace('/', '-') or 'home'}")
    for path in ("/account/", "/account/calendar-links/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        found[path] = serious_accessibility_problems(page)
    # The operator's pages (usage drawn as charts), with the owner made an operator meanwhile.
    owner = User.objects.filter(email="owner@demo.bookwell.test")
    owner.update(is_operator=True)
    try:
        for path in ("/operator/tasks/", "/operator/usage/", "/operator/clinics/"):
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            found[path] = serious_accessibility_problems(page)
            screenshot(page, f"operator-{path.strip('/').replace('/', '-')}")
    finally:
        owner.update(is_operator=False)
    # A page the role may not open: the refusal a practitioner sees for the settings.
    desk_context = new_context(browser, page_problems, **DESKTOP)
    desk_page = watch(desk_context.new_page(), page_problems)
    _sign_in(desk_page, live_server.url, "anna@demo.bookwell.test")
    response = desk_page.goto(f"{live_server.url}/c/{DEMO_SLUG}/settings/")
    assert response is not None and response.status == 403
    found["403 for a practitioner"] = serious_accessibility_problems(desk_page)
    desk_context.close()
    assert {path: problems for path, problems in found.items() if problems} == {}
    assert cookie_names(context) == sorted(
        [settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME]
    )
    refused = [p for p in page_problems.all() if "403" in p and "/settings/" in p]
    assert len(refused) == 1  # the browser's own note of that status
    assert [p for p in page_problems.all() if p not in refused] == []
    context.close()


def test_the_demo_clinics_public_pages_have_no_serious_accessibility_problems(
    live_server: LiveServer, browser: Browser, demo, page_problems: PageProblems
) -> None:
    # A client on a phone: the booking page, the waitlist (joined), its manage link, the
    # privacy notice, and a manage link that no longer works. No cookie anywhere (P19).
    context = new_context(browser, page_problems, **PHONE)
    page = watch(context.new_page(), page_problems)
    base = f"{live_server.url}/book/{DEMO_SLUG}"
    found: dict[str, list[str]] = {}

    page.goto(f"{base}/")
    found["services"] = serious_accessibility_problems(page)
    page.locator("main a[href*='/s/']").first.click()
    found["staff"] = serious_accessibility_problems(page)
    page.get_by_role("link", name="No preference").click()
    found["month"] = serious_accessibility_problems(page)
    page.get_by_role("link", name="Join the waitlist").first.click()
    expect(page.get_by_role("heading", name="Join the waitlist")).to_be_visible()
    found["waitlist"] = serious_accessibility_problems(page)
    screenshot(page, "book-7-waitlist-phone")
    page.get_by_label("Your name").fill("Wait Listed")
    page.get_by_label("Email").fill("wait.listed@example.test")
    consent = page.get_by_role("checkbox")
    if consent.count():
        consent.check()
    time.sleep(2.2)  # a person takes a moment; instant posts are refused as bots
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.locator("main")).to_contain_text("waitlist")
    assert "/waitlist/" in page.url and "new=1" in page.url
    found["waitlist-manage"] = serious_accessibility_problems(page)
    screenshot(page, "book-8-waitlist-manage-phone")
    with clinic_context(demo):
        entry = WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING).latest("pk")
        staff = entry.staff or entry.service.staff.order_by("pk").first()
        assert staff is not None
        WaitlistOffer.objects.create(  # a freed time offered to this place in line
            clinic=demo,
            entry=entry,
            staff=staff,
            start=timezone.now() + dt.timedelta(days=3),
            expires_at=timezone.now() + dt.timedelta(hours=2),
        )
    page.reload()
    expect(page.get_by_role("button", name="Book this time")).to_be_visible()
    found["waitlist-offer"] = serious_accessibility_problems(page)
    screenshot(page, "book-9-waitlist-offer-phone")

    page.goto(f"{base}/privacy/")
    found["privacy"] = serious_accessibility_problems(page)
    page.goto(f"{base}/?lang=de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    found["services (German)"] = serious_accessibility_problems(page)
    response = page.goto(f"{base}/manage/not-a-real-link/")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_be_visible()
    found["link-gone"] = serious_accessibility_problems(page)
    # A form sent from another website's page: the refusal (the browser's Origin header is
    # rewritten on the way, as another site's form would send it).
    page.goto(f"{base}/")
    page.locator("main a[href*='/s/']").first.click()
    page.get_by_role("link", name="No preference").click()
    page.get_by_role("link", name="Join the waitlist").first.click()
    page.get_by_label("Your name").fill("Cross Site")
    page.get_by_label("Email").fill("cross.site@example.test")
    consent = page.get_by_role("checkbox")
    if consent.count():
        consent.check()

    def from_elsewhere(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        headers = {**route.request.headers, "origin": "https://elsewhere.example"}
        route.fulfill(response=route.fetch(headers=headers))

    page.route("**/waitlist/**", from_elsewhere)
    time.sleep(2.2)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This form was sent from another website"
    )
    found["refused"] = serious_accessibility_problems(page)
    page.unroute("**/waitlist/**")
    # Too many requests from one network: the page that says to slow down.
    with override_settings(BOOK_PAGE_LIMIT_PER_MINUTE=0):
        response = page.goto(f"{base}/")
    assert response is not None and response.status == 429
    found["slow-down"] = serious_accessibility_problems(page)

    assert {name: problems for name, problems in found.items() if problems} == {}
    assert cookie_names(context) == []
    expected = [p for p in page_problems.all() if "404" in p and "not-a-real-link" in p]
    expected += [p for p in page_problems.all() if "429" in p or "403" in p]
    assert len(expected) == 3  # the browser's own notes of the three statuses
    assert [p for p in page_problems.all() if p not in expected] == []
