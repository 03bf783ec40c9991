"""A client books a service that asks for a deposit, in a real browser: the time is held, the
browser goes on to the (fake, local) Stripe Checkout page, and after Stripe's signed event the
page it comes back to says the booking is confirmed. No cookies (P19) on the way."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest
import stripe
from django.test import Client, override_settings
from playwright.sync_api import expect

from bookwell.bookings.models import Appointment, Status
from bookwell.core.context import clinic_context
from bookwell.payments.models import Payment, PaymentSettings, PaymentStatus
from bookwell.scheduling.models import Location, PaymentTerms, Service, StaffMember, WorkingHours
from bookwell.tenancy.models import Clinic
from tests.e2e.conftest import PHONE, new_context, watch
from tests.e2e.helpers import cookie_names, screenshot, serious_accessibility_problems
from tests.factories import ClinicFactory
from tests.payments.fake_stripe import fake_stripe

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from pytest_django.live_server_helper import LiveServer

    from tests.e2e.conftest import PageProblems

pytestmark = pytest.mark.e2e

WHSEC = "whsec_" + "e" * 24


@pytest.fixture
def clinic(transactional_db: None) -> Clinic:
    clinic = ClinicFactory(name="Praxis Ahorn", slug="ahorn", time_zone="Europe/Berlin")
    with clinic_context(clinic):
        PaymentSettings.objects.create(
            clinic=clinic, enabled=True, secret_key="sk_test_" + "e" * 24, webhook_secret=WHSEC
        )
        location = Location.objects.create(clinic=clinic, name="Ahorn", time_zone="Europe/Berlin")
        service = Service.objects.create(
            clinic=clinic,
            name="Sports massage",
            duration_min=45,
            slot_interval_min=15,
            min_notice_min=0,
            price_cents=9000,
            payment=PaymentTerms.DEPOSIT_FIXED,
            deposit_cents=2000,
        )
        staff = StaffMember.objects.create(clinic=clinic, display_name="Kai Ahorn")
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


def _completed(payment: Payment) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "id": "evt_browser",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": payment.stripe_session_id,
                    "object": "checkout.session",
                    "client_reference_id": str(payment.pk),
                    "payment_status": "paid",
                    "payment_intent": "pi_browser",
                }
            },
        }
    )
    at = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body}", WHSEC)
    return body.encode(), f"t={at},v1={signature}"


def test_a_client_pays_a_deposit_on_stripe_and_comes_back_booked(
    live_server: LiveServer, browser: Browser, clinic: Clinic, page_problems: PageProblems
) -> None:
    context = new_context(browser, page_problems, **PHONE)
    page = watch(context.new_page(), page_problems)
    with (
        fake_stripe() as fake,
        override_settings(
            STRIPE_API_BASE=fake.base,
            STRIPE_CHECKOUT_ORIGIN=fake.base,
            BASE_URL=live_server.url,
        ),
    ):
        fake.serve_checkout = True
        page.goto(f"{live_server.url}/book/ahorn/")
        page.get_by_role("link", name="Sports massage").click()
        free = page.locator("a.day.free")
        if free.count() == 0:
            page.get_by_role("link", name="Next month").click()
        page.locator("a.day.free").first.click()
        page.locator(".times a").first.click()
        expect(page.get_by_role("heading", name="Your details")).to_be_visible()
        page.get_by_label("Your name").fill("Lena Ahorn")
        page.get_by_label("Email").fill("lena@example.test")
        time.sleep(2.2)  # a person takes a moment; instant posts are refused as bots
        page.get_by_role("button", name="Book this time").click()

        # On to the payment page (here the fake Stripe), the time held meanwhile.
        expect(page.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
        assert page.url.startswith(f"{fake.base}/c/pay/cs_test_")
        with clinic_context(clinic):
            appointment = Appointment.objects.get()
            payment = Payment.objects.get()
        assert appointment.status == Status.PENDING and payment.amount_cents == 2000
        assert "lena" not in fake.requests[0].raw.lower()

        # Stripe tells Bookwell; the client comes back to the return address.
        body, header = _completed(payment)
        answer = Client().post(
            f"/stripe/events/{_endpoint(clinic)}/",
            body,
            content_type="application/json",
            headers={"Stripe-Signature": header},
        )
        assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
        success = fake.requests[0].form["success_url"]
        page.goto(success)
        expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
        assert serious_accessibility_problems(page) == []
        screenshot(page, "pay-1-booked-after-payment-phone")
    with clinic_context(clinic):
        assert Appointment.objects.get().status == Status.CONFIRMED
        assert Payment.objects.get().status == PaymentStatus.PAID
    assert cookie_names(context) == []
    assert page_problems.all() == []
    context.close()


def _endpoint(clinic: Clinic) -> str:
    with clinic_context(clinic):
        return str(PaymentSettings.objects.get().pk)
