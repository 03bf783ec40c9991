import datetime as dt

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "bookwell.notifications"
    label = "notifications"

    def ready(self) -> None:
        from bookwell.core import periodic
        from bookwell.notifications.services import agenda_scan, reminders_scan

        periodic.register(
            periodic.Job(
                name="notifications.reminders-scan",
                every=dt.timedelta(minutes=5),
                run=lambda now: reminders_scan(now=now),
            )
        )
        periodic.register(
            periodic.Job(
                name="notifications.agenda-scan",
                every=dt.timedelta(minutes=5),
                run=lambda now: agenda_scan(now=now),
            )
        )
