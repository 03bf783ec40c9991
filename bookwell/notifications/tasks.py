"""Background tasks: they take ids, are idempotent, and are enqueued after commit."""

from __future__ import annotations

from django.tasks import task

from bookwell.core.tasks import guarded
from bookwell.notifications import services


@task()
def send_delivery(delivery_id: str, attempt: int = 1) -> str:
    """Sends one delivery if it is still due and no other worker holds it."""
    return str(
        guarded(
            send_delivery,
            lambda: services.deliver(delivery_id),
            args=(delivery_id,),
            attempt=attempt,
        )
    )
