"""Owners and admins set up payments (issue 10): their own Stripe keys, write-only and sealed;
what each service asks for online."""

from __future__ import annotations

import pytest

from bookwell.audit.models import Action, AuditEvent
from bookwell.core.context import clinic_context
from bookwell.payments.models import PaymentSettings
from bookwell.scheduling.models import PaymentTerms, Service
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

KEY = "sk_test_" + "Q" * 24
WHSEC = "whsec_" + "W" * 24


def test_an_owner_turns_payments_on_with_the_clinics_keys(clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    url = f"/c/{clinic_a.slug}/payments/"
    refused = owner.post(
        url, {"enabled": "on", "currency": "eur", "hold_minutes": "15", "keep_percent": "100"}
    )
    assert refused.status_code == 400 and "Enter the secret key" in refused.content.decode()
    bad = owner.post(
        url,
        {"currency": "EUR", "hold_minutes": "15", "keep_percent": "100", "new_secret_key": "pk_x"},
    )
    assert (
        bad.status_code == 400 and "does not look like a Stripe secret key" in bad.content.decode()
    )
    with clinic_context(clinic_a):
        assert not PaymentSettings.objects.exists()  # nothing half-written

    saved = owner.post(
        url,
        {
            "enabled": "on",
            "currency": "eur",
            "hold_minutes": "20",
            "keep_percent": "100",
            "new_secret_key": KEY,
            "new_webhook_secret": WHSEC,
        },
    )
    assert saved.status_code == 302
    with clinic_context(clinic_a):
        row = PaymentSettings.objects.get()
        assert (row.enabled, row.currency, row.hold_minutes) == (True, "EUR", 20)
        assert row.secret_key == KEY and row.__dict__["secret_key"].token.startswith("bw1.")
        event = AuditEvent.objects.filter(action=Action.SETTINGS_CHANGED).latest("seq")
    assert event.extra["section"] == "payments"
    assert "secret_key" in event.extra["fields"] and KEY not in str(event.extra)
    page = owner.get(url).content.decode()
    assert KEY not in page and "…QQQQ" in page  # write-only: the last four only
    assert f"/stripe/events/{row.pk}/" in page  # the address to give Stripe
    # Saving again without keys keeps them.
    owner.post(
        url, {"enabled": "on", "currency": "EUR", "hold_minutes": "30", "keep_percent": "100"}
    )
    with clinic_context(clinic_a):
        row.refresh_from_db()
    assert row.secret_key == KEY and row.hold_minutes == 30


def test_a_service_says_what_it_asks_for_online(clinic_a, member_client):
    setup = schedule(clinic_a)
    _, owner = member_client(clinic_a, Role.OWNER)
    url = f"/c/{clinic_a.slug}/services/{setup.service.pk}/"
    form = {
        "name": "Massage",
        "duration_min": "60",
        "buffer_before_min": "0",
        "buffer_after_min": "0",
        "price": "80.00",
        "currency": "EUR",
        "slot_interval_min": "30",
        "min_notice_min": "60",
        "max_advance_days": "90",
        "cancel_notice_min": "1440",
        "reschedule_notice_min": "1440",
        "online_bookable": "on",
        "assignment_policy": "least_booked",
        "capacity": "1",
        "deposit_percent": "0",
        "staff": [str(setup.staff.pk)],
    }
    missing = owner.post(url, {**form, "payment": PaymentTerms.DEPOSIT_FIXED, "deposit": ""})
    assert missing.status_code == 400 and "deposit" in missing.content.decode()
    done = owner.post(url, {**form, "payment": PaymentTerms.DEPOSIT_FIXED, "deposit": "25.50"})
    assert done.status_code == 302
    with clinic_context(clinic_a):
        service = Service.objects.get(pk=setup.service.pk)
    assert (service.payment, service.deposit_cents) == (PaymentTerms.DEPOSIT_FIXED, 2550)

    # The clinic takes payments in one currency: a service paid online is priced in it...
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(clinic=clinic_a, currency="CHF")
    chf = {**form, "payment": PaymentTerms.DEPOSIT_FIXED, "deposit": "25.50"}
    refused = owner.post(url, chf)
    assert refused.status_code == 400
    assert "takes payments online in CHF" in refused.content.decode()
    assert owner.post(url, {**chf, "currency": "CHF"}).status_code == 302
    # ...and the clinic's currency does not change under a service paid online in another.
    settings_url = f"/c/{clinic_a.slug}/payments/"
    moved = owner.post(
        settings_url, {"currency": "EUR", "hold_minutes": "15", "keep_percent": "100"}
    )
    assert moved.status_code == 400
    assert "paid online in another currency: Massage" in moved.content.decode()
    with clinic_context(clinic_a):
        assert PaymentSettings.objects.get().currency == "CHF"
        assert Service.objects.get(pk=setup.service.pk).currency == "CHF"


def test_the_privacy_center_and_the_art30_record_name_stripe_only_once_it_is_used(
    clinic_a, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    record = f"/c/{clinic_a.slug}/privacy/record-of-processing.md"
    assert "Stripe" not in owner.get(record).content.decode()
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(
            clinic=clinic_a, enabled=True, secret_key=KEY, webhook_secret=WHSEC
        )
    assert "Stripe" in owner.get(record).content.decode()
    center = owner.get(f"/c/{clinic_a.slug}/privacy/").content.decode()
    assert "Clients enter their payment details on Stripe" in center
