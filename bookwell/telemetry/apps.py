import datetime as dt

from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "bookwell.telemetry"
    label = "telemetry"

    def ready(self) -> None:
        from bookwell.core import periodic
        from bookwell.telemetry.services import usage_rollup

        periodic.register(
            periodic.Job(
                name="telemetry.rollup",
                every=dt.timedelta(days=1),
                run=lambda now: usage_rollup(now=now),
            )
        )
