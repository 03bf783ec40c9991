import datetime as dt

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bookwell.core"
    label = "core"

    def ready(self) -> None:
        from bookwell.core import periodic
        from bookwell.core.tasks import mark_lost_tasks

        periodic.register(
            periodic.Job(name="tasks.mark-lost", every=dt.timedelta(minutes=5), run=mark_lost_tasks)
        )
