"""Background work of payments: sending refunds to Stripe (with retries)."""

from __future__ import annotations

from django.tasks import task

from bookwell.core.tasks import guarded


@task()
def send_refund(refund_id: str, attempt: int = 1) -> str:
    from bookwell.payments.services import refund_send

    return str(
        guarded(send_refund, lambda: refund_send(refund_id), args=(refund_id,), attempt=attempt)
    )
