import datetime as dt

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bookwell.core"
    label = "core"

    def ready(self) -> None:
        from bookwell.core import operator_notices, periodic
        from bookwell.core.tasks import mark_lost_tasks

        periodic.register(
            periodic.Job(name="tasks.mark-lost", every=dt.timedelta(minutes=5), run=mark_lost_tasks)
        )
        periodic.register(
            periodic.Job(
                name=operator_notices.JOB,
                every=operator_notices.EVERY,
                run=operator_notices.operator_notices_send,
            )
        )
