"""The notifications pages: what was sent and why not, resend; the clinic's own texts with
placeholders checked and a preview; reminder rules, SMS and quiet hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import services
from bookwell.notifications.models import (
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    ReminderRule,
)
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)


def _url(name: str, clinic, **kwargs) -> str:
    return reverse(f"notifications:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


@pytest.fixture
def owner(clinic_a, clock, member_client):
    return member_client(clinic_a, Role.OWNER)[1]


def _booked_with_failed_email(clinic) -> Delivery:
    setup = schedule(clinic)
    with clinic_context(clinic):
        client = client_create(
            clinic=clinic, data=ClientInput(full_name="Nora Failed", email="nora@example.test")
        )
        appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 3, 25, 10, tzinfo=BERLIN),
                client=client,
            ),
        )
        Delivery.objects.update(status=DeliveryStatus.FAILED, error_code="email:SMTPDataError")
        return Delivery.objects.get()


def test_the_front_desk_sees_a_failure_with_its_reason_and_sends_it_again(
    clinic_a, clock, member_client
):
    delivery = _booked_with_failed_email(clinic_a)
    desk = member_client(clinic_a, Role.FRONT_DESK)[1]

    page = desk.get(_url("deliveries", clinic_a), {"status": "failed"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Nora Failed" in html and "email:SMTPDataError" in html and "Send again" in html

    resent = desk.post(_url("resend", clinic_a, delivery_id=delivery.pk))
    assert resent.status_code == 302
    assert services.dispatch_due() == {"sent": 1}
    assert mail.outbox[0].to == ["nora@example.test"]
    # Texts and rules are not the front desk's.
    assert desk.get(_url("templates", clinic_a)).status_code == 403


def test_an_unknown_placeholder_is_refused_and_nothing_is_saved(clinic_a, owner):
    url = _url("template-edit", clinic_a, kind="confirmation", channel="email", language="en")
    response = owner.post(
        url, {"subject": "See you {date}", "body": "Hi {first_name}!", "action": "save"}
    )

    assert response.status_code == 400
    assert "Unknown placeholder {first_name}" in response.content.decode()
    with clinic_context(clinic_a):
        assert not MessageTemplate.objects.exists()
    for bad in ("Hi {client_name", "Hi {client_name.__class__}", "Hi {time:%Y}", "x" * 10_001):
        refused = owner.post(url, {"subject": "S", "body": bad, "action": "save"})
        assert refused.status_code == 400, bad[:40]
    with clinic_context(clinic_a):
        assert not MessageTemplate.objects.exists()


def test_a_clinics_own_text_is_previewed_saved_used_and_reset(clinic_a, owner):
    url = _url("template-edit", clinic_a, kind="confirmation", channel="email", language="de")
    form = owner.get(url)
    assert "Ihr Termin am {date} um {time}" in form.content.decode()  # the built-in text

    data = {"subject": "Bis bald, {client_name}", "body": "{service} am {date} um {time}."}
    preview = owner.post(url, {**data, "action": "preview"})
    assert preview.status_code == 200
    assert "Bis bald, Alex Example" in preview.content.decode()
    with clinic_context(clinic_a):
        assert not MessageTemplate.objects.exists()  # a preview saves nothing

    assert owner.post(url, {**data, "action": "save"}).status_code == 302
    _booked_german(clinic_a)
    services.dispatch_due()
    assert mail.outbox[0].subject == "Bis bald, Greta Deutsch"
    assert mail.outbox[0].body.startswith("Massage am 25. März 2031 um 10:00.")

    assert owner.post(url, {**data, "action": "reset"}).status_code == 302
    with clinic_context(clinic_a):
        assert not MessageTemplate.objects.exists()


def _booked_german(clinic: Clinic) -> None:
    setup = schedule(clinic)
    with clinic_context(clinic):
        client = client_create(
            clinic=clinic,
            data=ClientInput(
                full_name="Greta Deutsch", email="greta@example.test", preferred_language="de"
            ),
        )
        appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 3, 25, 10, tzinfo=BERLIN),
                client=client,
            ),
        )


def test_reminder_rules_quiet_hours_and_sms_are_set_on_one_page(clinic_a, owner):
    added = owner.post(
        _url("rule-add", clinic_a),
        {"rule-amount": "1", "rule-unit": "1440", "rule-channel": "email"},
    )
    assert added.status_code == 302
    too_far = owner.post(
        _url("rule-add", clinic_a),
        {"rule-amount": "15", "rule-unit": "1440", "rule-channel": "sms"},
    )
    assert too_far.status_code == 400
    assert "between one hour and two weeks" in too_far.content.decode()
    with clinic_context(clinic_a):
        [rule] = ReminderRule.objects.all()
    assert (rule.minutes_before, rule.channel) == (1440, "email")
    assert "1 day before" in owner.get(_url("sending", clinic_a)).content.decode()

    half = owner.post(_url("sending", clinic_a), {"sending-quiet_start": "21:00"})
    assert half.status_code == 400
    bad_time = owner.post(_url("sending", clinic_a), {"sending-agenda_at": "25:99"})
    assert bad_time.status_code == 400
    assert "Enter a valid time" in bad_time.content.decode()
    saved = owner.post(
        _url("sending", clinic_a),
        {
            "sending-sms_enabled": "on",
            "sending-quiet_start": "21:00",
            "sending-quiet_end": "08:00",
            "sending-agenda_at": "07:30",
        },
    )
    assert saved.status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.sms_enabled and clinic_a.quiet_start == dt.time(21)
    assert clinic_a.agenda_at == dt.time(7, 30)
    assert 'value="07:30"' in owner.get(_url("sending", clinic_a)).content.decode()
    wrong_rule = owner.post(
        _url("rule-add", clinic_a),
        {"rule-amount": "0", "rule-unit": "60", "rule-channel": "email"},
    )
    assert wrong_rule.status_code == 400
    assert 'value="07:30"' in wrong_rule.content.decode()  # the settings still as saved
    texts = owner.get(_url("templates", clinic_a)).content.decode()
    assert "Daily agenda" not in texts  # built in: not one of the clients' texts

    assert owner.post(_url("rule-remove", clinic_a, rule_id=rule.pk)).status_code == 302
    with clinic_context(clinic_a):
        assert not ReminderRule.objects.exists()
