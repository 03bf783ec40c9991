import datetime as dt

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "bookwell.privacy"
    label = "privacy"

    def ready(self) -> None:
        from bookwell.core import periodic
        from bookwell.privacy.clinic_data import clinic_deletions_run, clinic_exports_expire
        from bookwell.privacy.retention import retention_run

        periodic.register(
            periodic.Job(
                name="privacy.retention",
                every=dt.timedelta(days=1),
                run=lambda now: retention_run(now=now),
            )
        )
        periodic.register(
            periodic.Job(
                name="privacy.exports",
                every=dt.timedelta(hours=1),
                run=lambda now: clinic_exports_expire(now=now),
            )
        )
        periodic.register(
            periodic.Job(
                name="privacy.deletions",
                every=dt.timedelta(hours=1),
                run=lambda now: clinic_deletions_run(now=now),
            )
        )
