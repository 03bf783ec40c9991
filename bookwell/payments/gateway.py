"""The only module that talks to Stripe (issue 10, P13).

What leaves Bookwell: the amount, the currency, an opaque reference (the payment's id), the
clinic's name and "deposit" or "payment" as the line item, and where to send the client
back. Never the client's name, email or phone: Stripe's own page asks for what it needs,
and that stays with Stripe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings


class GatewayError(Exception):
    """Stripe could not be reached or refused the request. Holds a code, never a message from
    Stripe (it could quote what the clinic configured)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class BadSignature(Exception):
    """A webhook whose signature does not verify (or is too old): answered 400, ignored."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def _client(secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": settings.STRIPE_API_BASE},
        # One attempt: the client is waiting on the booking page, and the hold expires anyway.
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def checkout_session_create(
    *,
    secret_key: str,
    amount_cents: int,
    currency: str,
    reference: str,
    item_name: str,
    success_url: str,
    cancel_url: str,
    expires_at: dt.datetime,
    idempotency_key: str,
) -> CheckoutSession:
    """A hosted Checkout page for one payment. `idempotency_key` makes a retried request
    return the same session instead of a second one."""
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": reference,
        "metadata": {"bookwell_payment": reference},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_cents,
                    "product_data": {"name": item_name},
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        # Stripe wants 30 minutes to 24 hours; Bookwell releases the time at its own hold's end
        # (a payment that completes later is checked against the time being still free).
        "expires_at": int(expires_at.timestamp()),
    }
    with _errors_as_codes():
        session = _client(secret_key).v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            {"idempotency_key": idempotency_key},
        )
    return CheckoutSession(id=str(session.id), url=str(session.url))


@contextmanager
def _errors_as_codes() -> Iterator[None]:
    """Stripe's errors as GatewayError codes (never Stripe's message)."""
    try:
        yield
    except stripe.APIConnectionError:
        raise GatewayError("unreachable") from None
    except stripe.AuthenticationError:
        raise GatewayError("bad_key") from None
    except stripe.StripeError as exc:
        raise GatewayError(str(getattr(exc, "code", None) or "refused")[:40]) from None


def event_verify(payload: bytes, signature: str, secret: str) -> dict[str, Any]:
    """The event of a webhook request, if its signature (Stripe's scheme: HMAC-SHA256 over
    the timestamp and the body, within five minutes) verifies under the clinic's secret."""
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError):
        raise BadSignature() from None
    return dict(event.to_dict())


def refund_create(
    *, secret_key: str, payment_intent: str, amount_cents: int, idempotency_key: str
) -> str:
    """Refunds part or all of a payment; returns Stripe's refund id."""
    with _errors_as_codes():
        refund = _client(secret_key).v1.refunds.create(
            {"payment_intent": payment_intent, "amount": amount_cents},
            {"idempotency_key": idempotency_key},
        )
    return str(refund.id)


def checkout_session_expire(*, secret_key: str, session_id: str) -> None:
    """Closes a Checkout page whose hold ran out, so the client cannot pay for a time that was
    released (best effort: a payment that still comes in is refunded if the time is gone)."""
    try:
        _client(secret_key).v1.checkout.sessions.expire(session_id)
    except stripe.StripeError:
        raise GatewayError("expire_failed") from None
