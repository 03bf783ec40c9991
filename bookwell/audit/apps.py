import datetime as dt

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "bookwell.audit"
    label = "audit"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from bookwell.audit import guard
        from bookwell.audit.services import audit_retention
        from bookwell.core import periodic

        connection_created.connect(guard.register, dispatch_uid="bookwell.audit.guard")

        periodic.register(
            periodic.Job(
                name="audit.retention",
                every=dt.timedelta(days=1),
                run=lambda now: audit_retention(now=now),
            )
        )
