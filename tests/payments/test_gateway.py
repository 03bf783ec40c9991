"""Payments groundwork (issue 10): what goes to Stripe and what comes back. The real `stripe`
package talks to a local fake API that records every request (P13: amount, currency and an
opaque reference, never the client's personal data)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import uuid

import pytest
import stripe
from django.db import connection
from django.test import override_settings

from bookwell.core.context import clinic_context
from bookwell.payments import gateway
from bookwell.payments.models import PaymentSettings
from tests.payments.fake_stripe import fake_stripe

KEY = "sk_test_" + "k" * 24


def _create(reference: str, **overrides):
    args = {
        "secret_key": KEY,
        "amount_cents": 2500,
        "currency": "EUR",
        "reference": reference,
        "item_name": "Deposit · Clinic A",
        "success_url": "https://bookwell.test/book/clinic-a/paid/",
        "cancel_url": "https://bookwell.test/book/clinic-a/",
        "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        "idempotency_key": f"checkout-{reference}",
    }
    return gateway.checkout_session_create(**{**args, **overrides})


def test_a_checkout_session_carries_amount_currency_and_reference_only():
    reference = str(uuid.uuid4())
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        session = _create(reference)
        again = _create(reference)  # a retry: the same session, not a second one
    assert session == again and session.id.startswith("cs_test_")
    assert session.url.startswith("https://checkout.stripe.test/")
    first = fake.requests[0]
    assert first.path == "/v1/checkout/sessions"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.headers["idempotency-key"] == f"checkout-{reference}"
    form = first.form
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["client_reference_id"] == reference
    assert form["metadata[bookwell_payment]"] == reference
    # Nothing about the client: no email, name or phone field of Stripe's is set.
    assert not any(k.startswith(("customer", "payment_intent_data[receipt")) for k in form)
    assert "@" not in first.raw.replace("%40", "@").split("success_url")[0]
    # Stripe's 30-minute minimum is respected, even for a 15-minute hold.
    assert int(form["expires_at"]) >= time.time() + 30 * 60


def test_stripe_unreachable_or_refusing_is_a_gateway_error_with_a_code():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket closes
    with (
        override_settings(STRIPE_API_BASE=f"http://127.0.0.1:{closed}"),
        pytest.raises(gateway.GatewayError) as unreachable,
    ):
        _create(str(uuid.uuid4()))
    assert unreachable.value.code == "unreachable"
    with fake_stripe() as fake, override_settings(STRIPE_API_BASE=fake.base):
        fake.fail_with = 401
        with pytest.raises(gateway.GatewayError) as bad_key:
            _create(str(uuid.uuid4()))
        fake.fail_with = 400
        with pytest.raises(gateway.GatewayError) as refused:
            _create(str(uuid.uuid4()))
    assert bad_key.value.code == "bad_key"
    assert refused.value.code == "fake" and "fake failure" not in str(refused.value)


def _signed(payload: dict, secret: str, at: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    at = at or int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body.decode()}", secret)
    return body, f"t={at},v1={signature}"


def test_webhook_events_verify_with_stripes_signing_scheme():
    secret = "whsec_" + "s" * 24
    event = {"id": "evt_1", "object": "event", "type": "checkout.session.completed",
             "data": {"object": {"id": "cs_test_1", "client_reference_id": "ref"}}}  # fmt: skip
    body, header = _signed(event, secret)
    assert gateway.event_verify(body, header, secret)["type"] == "checkout.session.completed"
    with pytest.raises(gateway.BadSignature):
        gateway.event_verify(body, header, "whsec_other")
    with pytest.raises(gateway.BadSignature):  # the body changed after signing
        gateway.event_verify(body.replace(b"cs_test_1", b"cs_test_2"), header, secret)
    old_body, old_header = _signed(event, secret, at=int(time.time()) - 600)
    with pytest.raises(gateway.BadSignature):  # replayed after the five-minute window
        gateway.event_verify(old_body, old_header, secret)
    with pytest.raises(gateway.BadSignature):
        gateway.event_verify(b"not json", "t=1,v1=00", secret)


@pytest.mark.django_db
def test_the_clinics_stripe_keys_are_sealed_at_rest(clinic_a):
    with clinic_context(clinic_a):
        made = PaymentSettings.objects.create(
            clinic=clinic_a, secret_key=KEY, webhook_secret="whsec_" + "w" * 24
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT secret_key, webhook_secret FROM payments_paymentsettings WHERE id = %s",
                [made.pk.hex if connection.vendor == "sqlite" else made.pk],
            )
            raw = cursor.fetchone()
        assert raw is not None and all(v.startswith("bw1.") for v in raw)
        assert KEY not in "".join(raw) and "whsec_" not in "".join(raw)
        fresh = PaymentSettings.objects.get(pk=made.pk)
        assert fresh.secret_key == KEY and not fresh.enabled  # off unless turned on


def test_what_is_stored_about_a_payment_is_amounts_statuses_stripe_ids_and_times():
    """Point 7: a new column must be added here on purpose; nothing the client types on
    Stripe's page (card, name, address) has a place to go."""
    from bookwell.payments.models import Payment, Refund

    stored = {m.__name__: {f.name for f in m._meta.concrete_fields} for m in (Payment, Refund)}
    assert stored == {
        "Payment": {
            "id", "clinic", "appointment", "kind", "method", "amount_cents", "refunded_cents",
            "currency", "status", "stripe_session_id", "stripe_payment_intent", "checkout_url",
            "created_at", "paid_at", "updated_at",
        },
        "Refund": {
            "id", "clinic", "payment", "amount_cents", "reason", "status", "attempts",
            "stripe_refund_id", "created_at", "sent_at",
        },
    }  # fmt: skip
