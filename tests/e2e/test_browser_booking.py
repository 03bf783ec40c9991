"""A client books on a phone, in a real browser: the whole path, the .ics, the manage link to
reschedule and cancel; two browsers racing for the last free time; no cookies (P19); no
serious accessibility problems (axe-core); screenshots kept for people to look at."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookwell.bookings.models import Appointment, Status
from bookwell.clients.services import privacy_notice_publish
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import DateOverride, Location, Service, StaffMember, WorkingHours
from bookwell.tenancy.models import Clinic
from tests.e2e.conftest import PHONE, new_context, watch
from tests.e2e.helpers import cookie_names, screenshot, serious_accessibility_problems
from tests.factories import ClinicFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from pytest_django.live_server_helper import LiveServer

    from tests.e2e.conftest import PageProblems

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clinic(transactional_db: None) -> Clinic:
    clinic = ClinicFactory(name="Praxis Linde", slug="linde", time_zone="Europe/Berlin")
    clinic.require_consent = True
    clinic.save()
    with clinic_context(clinic):
        privacy_notice_publish(clinic=clinic, body="We keep your details for your treatment.")
        location = Location.objects.create(
            clinic=clinic, name="Linde", time_zone="Europe/Berlin", address="Lindenstr. 1"
        )
        service = Service.objects.create(
            clinic=clinic,
            name="Physiotherapy",
            duration_min=30,
            slot_interval_min=30,
            min_notice_min=0,
            cancel_notice_min=0,
            reschedule_notice_min=0,
            price_cents=6500,
        )
        for name in ("Dr. Ada Linde", "Dr. Ben Kurz"):
            staff = StaffMember.objects.create(clinic=clinic, display_name=name)
            service.staff.add(staff, through_defaults={"clinic": clinic})
            for weekday in range(7):
                WorkingHours.objects.create(
                    clinic=clinic,
                    staff=staff,
                    location=location,
                    weekday=weekday,
                    start_min=7 * 60,
                    end_min=21 * 60,
                )
    return clinic


def _problems(page: Page, label: str) -> None:
    assert serious_accessibility_problems(page) == [], label


def _pick_free_day(page: Page, nth: int = 0) -> None:
    """Clicks the first day with free times (in the next month when this one has none); with
    `nth`, the nth after it (a move to another day: late in a day, its one time left may be
    the appointment's own)."""
    free = page.locator("a.day.free")
    if free.count() <= nth:
        page.get_by_role("link", name="Next month").click()
        nth = 0  # (any day of the next month is another day)
    page.locator("a.day.free").nth(nth).click()


def test_a_client_books_on_a_phone_then_reschedules_and_cancels(
    live_server: LiveServer, browser: Browser, clinic: Clinic, page_problems: PageProblems
) -> None:
    context = new_context(browser, page_problems, **PHONE)
    page = watch(context.new_page(), page_problems)
    base = live_server.url

    page.goto(f"{base}/book/linde/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Praxis Linde")
    assert cookie_names(context) == []
    _problems(page, "services")
    screenshot(page, "book-1-services-phone")

    page.get_by_role("link", name="Physiotherapy").click()
    _problems(page, "staff")
    page.get_by_role("link", name="No preference").click()
    _pick_free_day(page)
    expect(page.locator("#times")).to_be_visible()
    _problems(page, "month and times")
    screenshot(page, "book-2-month-and-times-phone")

    page.locator(".times a").first.click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    _problems(page, "details")
    time.sleep(2.2)  # a person takes a moment; instant posts are refused as bots
    page.get_by_role("button", name="Book this time").click()  # nothing filled in yet
    expect(page.locator(".errorlist").first).to_be_visible()
    _problems(page, "details with errors")
    screenshot(page, "book-3a-details-errors-phone")
    page.get_by_label("Your name").fill("Mia Sommer")
    page.get_by_label("Email").fill("mia.sommer@example.test")
    page.get_by_role("checkbox").check()  # consent to the clinic's notice (P18)
    screenshot(page, "book-3-details-phone")
    assert cookie_names(context) == []
    time.sleep(2.2)  # a person takes a moment; instant posts are refused as bots
    page.get_by_role("button", name="Book this time").click()

    expect(page.get_by_text("You are booked.")).to_be_visible()
    _problems(page, "confirmation")
    screenshot(page, "book-4-confirmation-phone")
    with clinic_context(clinic):
        appointment = Appointment.objects.get()
    assert appointment.status == Status.CONFIRMED

    with page.expect_download() as download:
        page.get_by_role("link", name="Add to my calendar (.ics)").click()
    ics = Path(download.value.path()).read_text()
    (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert event.decoded("DTSTART") == appointment.start  # the same instant, in any zone

    manage_url = page.locator("code.secret").inner_text()
    later = watch(context.new_page(), page_problems)  # the link, opened later from an email
    later.goto(manage_url)
    _problems(later, "manage page")
    screenshot(later, "book-4b-manage-phone")
    later.get_by_role("link", name="Choose another time").click()
    _pick_free_day(later, nth=1)
    times = later.locator(".times button")
    expect(times.first).to_be_visible()
    _problems(later, "reschedule")
    screenshot(later, "book-5-reschedule-phone")
    times.last.click()
    expect(later.get_by_text("Your appointment has been moved.")).to_be_visible()
    with clinic_context(clinic):
        moved = Appointment.objects.get()
    assert moved.start != appointment.start

    later.get_by_role("button", name="Cancel this appointment").click()
    expect(later.get_by_text("Your appointment is cancelled.")).to_be_visible()
    with clinic_context(clinic):
        assert Appointment.objects.get().status == Status.CANCELLED_BY_CLIENT

    assert cookie_names(context) == []  # P19: none before, during or after
    # The only complaint: the browser noting the 400 of the form sent empty on purpose.
    expected = [p for p in page_problems.all() if "400 (Bad Request)" in p and "/details/" in p]
    assert len(expected) == 1
    assert [p for p in page_problems.all() if p not in expected] == []
    context.close()


def test_two_browsers_race_for_the_last_free_time(
    live_server: LiveServer, browser: Browser, clinic: Clinic, page_problems: PageProblems
) -> None:
    # One staff member works one half hour on one day: the only time there is.
    day = timezone.now().astimezone(BERLIN).date() + dt.timedelta(days=2)
    with clinic_context(clinic):
        service = Service.objects.get()
        only = StaffMember.objects.order_by("pk").first()
        assert only is not None
        service.staff.set([only], through_defaults={"clinic": clinic})
        WorkingHours.objects.all().delete()
        DateOverride.objects.create(
            clinic=clinic,
            staff=only,
            location=Location.objects.get(),
            date=day,
            intervals=[[600, 630]],
        )
    start = dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=BERLIN)
    url = f"{live_server.url}/book/linde/s/{service.pk}/details/?start={int(start.timestamp())}"

    pages = []
    for name in ("first", "second"):
        context = new_context(browser, page_problems, **PHONE)
        page = watch(context.new_page(), page_problems)
        page.goto(url)
        page.get_by_label("Your name").fill(f"Racer {name}")
        page.get_by_label("Email").fill(f"{name}@example.test")
        page.get_by_role("checkbox").check()
        pages.append(page)
    time.sleep(2.2)

    for page in pages:  # both press "Book" before either answer is back
        page.get_by_role("button", name="Book this time").click(no_wait_after=True)
    for page in pages:
        page.wait_for_load_state()
        expect(page.locator("h1")).not_to_have_text("Your details")

    winners = [p for p in pages if p.get_by_text("You are booked.").is_visible()]
    losers = [p for p in pages if p not in winners]
    assert len(winners) == 1 and len(losers) == 1
    told = losers[0].locator("main").inner_text()
    assert "this time was just taken" in told
    assert "No free times left on this day." in told  # and the fresh times: none left
    _problems(losers[0], "this time was just taken")
    screenshot(losers[0], "book-6-time-taken-phone")
    with clinic_context(clinic):
        assert Appointment.objects.count() == 1
    for page in pages:
        assert cookie_names(page.context) == []
        page.context.close()
    # The loser's answer is a 409 (Chromium logs any 4xx as a console error); nothing else.
    expected = "the server responded with a status of 409"
    assert [p for p in page_problems.all() if expected not in p] == []
