"""The staff side of payments (issue 10): the payment on the appointment panel, paid in
person, refunds by owners and admins only, and the payments list with totals per day and a
CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.core.context import clinic_context
from bookwell.payments.models import Payment, PaymentMethod, PaymentStatus, Refund, RefundStatus
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def _booked(clinic):
    setup = schedule(clinic)
    with clinic_context(clinic):
        return appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC),
            ),
        )


def test_the_desk_records_a_payment_in_person_and_an_admin_refunds_part_of_it(
    clinic_a, member_client, clock
):
    appointment = _booked(clinic_a)
    _, desk = member_client(clinic_a, Role.FRONT_DESK)
    panel = f"/c/{clinic_a.slug}/appointments/{appointment.pk}/"
    assert "Nothing paid." in desk.get(panel).content.decode()
    bad = desk.post(f"{panel}paid-in-person/", {"amount": "abc"}, follow=True)
    assert "Enter the amount paid" in bad.content.decode()
    desk.post(f"{panel}paid-in-person/", {"amount": "45,50"})
    with clinic_context(clinic_a):
        payment = Payment.objects.get()
    assert (payment.amount_cents, payment.method) == (4550, PaymentMethod.IN_PERSON)
    assert payment.status == PaymentStatus.PAID
    html = desk.get(panel).content.decode()
    assert "45.50 EUR" in html and "/refund/" not in html  # the desk cannot refund
    refund_url = f"/c/{clinic_a.slug}/payments/{payment.pk}/refund/"
    assert desk.post(refund_url, {"amount": "10"}).status_code == 403

    _, admin = member_client(clinic_a, Role.ADMIN)
    too_much = admin.post(refund_url, {"amount": "50.00"}, follow=True)
    assert "cannot be more than what is left" in too_much.content.decode()
    admin.post(refund_url, {"amount": "15.50"})
    with clinic_context(clinic_a):
        payment.refresh_from_db()
        refund = Refund.objects.get()
    assert payment.refunded_cents == 1550 and payment.status == PaymentStatus.PARTLY_REFUNDED
    assert refund.status == RefundStatus.RECORDED  # paid in person: handed back in person


def test_the_payments_list_totals_per_day_and_exports_csv(clinic_a, member_client, clock):
    from bookwell.payments.services import payment_record_in_person

    appointment = _booked(clinic_a)
    with clinic_context(clinic_a):
        payment_record_in_person(appointment=appointment, amount_cents=2000)
        clock.shift(3600)
        payment_record_in_person(appointment=appointment, amount_cents=500)
    _, owner = member_client(clinic_a, Role.OWNER)
    page = owner.get(f"/c/{clinic_a.slug}/payments/list/", {"from": "2031-03-01"})
    html = page.content.decode()
    assert page.status_code == 200 and "25.00" in html  # the day's total
    export = owner.get(
        f"/c/{clinic_a.slug}/payments/list/",
        {"from": "2031-03-01", "to": "2031-03-31", "format": "csv"},
    )
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert sorted(r["amount"] for r in rows) == ["20.00", "5.00"]
    assert {r["appointment_id"] for r in rows} == {str(appointment.pk)}
    _, desk = member_client(clinic_a, Role.FRONT_DESK)
    assert desk.get(f"/c/{clinic_a.slug}/payments/list/").status_code == 403


def test_the_api_shows_an_appointments_payments(clinic_a, clinic_b, clock):
    import json

    from bookwell.payments.services import payment_record_in_person
    from tests.integrations.helpers import ApiClient, token_for

    appointment = _booked(clinic_a)
    with clinic_context(clinic_a):
        payment = payment_record_in_person(appointment=appointment, amount_cents=3000)
    api = ApiClient(token_for(clinic_a, ["appointments:read"]))
    answer = api.get(f"/appointments/{appointment.pk}/payments")
    assert answer.status_code == 200
    [shown] = json.loads(answer.content)
    assert shown["id"] == str(payment.pk) and shown["amount_cents"] == 3000
    assert (shown["status"], shown["method"], shown["currency"]) == ("paid", "in_person", "EUR")
    detail = json.loads(api.get(f"/appointments/{appointment.pk}").content)
    assert detail["payment_status"] == "paid"
    other = ApiClient(token_for(clinic_b, ["appointments:read"]))
    assert other.get(f"/appointments/{appointment.pk}/payments").status_code == 404


def test_refunds_count_on_the_day_they_are_made_and_currencies_stay_apart(
    clinic_a, member_client, clock
):
    from bookwell.payments.models import RefundReason
    from bookwell.payments.services import (
        payment_record_in_person,
        payments_between,
        refund_issue,
    )

    appointment = _booked(clinic_a)
    with clinic_context(clinic_a):
        euros = payment_record_in_person(appointment=appointment, amount_cents=4000)
        francs = payment_record_in_person(appointment=appointment, amount_cents=1000)
        Payment.objects.filter(pk=francs.pk).update(currency="CHF")
        clock.shift(2 * 24 * 3600)  # two days later
        refund_issue(payment=euros, amount_cents=1500, reason=RefundReason.STAFF)
        _rows, totals = payments_between(clinic_a, dt.date(2031, 3, 1), dt.date(2031, 3, 31))
    by_day = {(t.day, t.currency): (t.count, t.paid_cents, t.refunded_cents) for t in totals}
    assert by_day == {
        (dt.date(2031, 3, 4), "EUR"): (1, 4000, 0),
        (dt.date(2031, 3, 4), "CHF"): (1, 1000, 0),
        (dt.date(2031, 3, 6), "EUR"): (0, 0, 1500),
    }


def test_money_actions_are_audited_and_the_refund_event_carries_the_new_status(
    clinic_a, member_client, clock
):
    from bookwell.audit.models import Action, AuditEvent
    from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint

    appointment = _booked(clinic_a)
    with clinic_context(clinic_a):
        WebhookEndpoint.objects.create(
            clinic=clinic_a, url="https://hooks.example.test/m", secret="whsec_money",
            events=["payment.refunded", "payment.succeeded"],
        )  # fmt: skip
    _, owner = member_client(clinic_a, Role.OWNER)
    owner.post(
        f"/c/{clinic_a.slug}/appointments/{appointment.pk}/paid-in-person/", {"amount": "30"}
    )
    with clinic_context(clinic_a):
        payment = Payment.objects.get()
    owner.post(f"/c/{clinic_a.slug}/payments/{payment.pk}/refund/", {"amount": "30"})
    owner.get(f"/c/{clinic_a.slug}/payments/list/", {"format": "csv"})
    with clinic_context(clinic_a):
        actions = list(AuditEvent.objects.values_list("action", flat=True))
        refunded = WebhookDelivery.objects.get(event="payment.refunded")
        assert WebhookDelivery.objects.filter(event="payment.succeeded").exists()
    assert {Action.PAYMENT_RECORDED, Action.PAYMENT_REFUNDED, Action.PAYMENTS_EXPORTED} <= set(
        actions
    )
    assert refunded.payload["data"]["status"] == "refunded"
    assert refunded.payload["data"]["refunded_cents"] == 3000
