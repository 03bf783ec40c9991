import datetime as dt

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "bookwell.payments"
    label = "payments"

    def ready(self) -> None:
        from bookwell.core import periodic
        from bookwell.payments.services import holds_expire

        periodic.register(
            periodic.Job(
                name="payments.holds",
                every=dt.timedelta(minutes=1),
                run=lambda now: holds_expire(now=now),
            )
        )
