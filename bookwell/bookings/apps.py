from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BookingsConfig(AppConfig):
    name = "bookwell.bookings"
    label = "bookings"

    def ready(self) -> None:
        from bookwell.bookings import signals, stamp_triggers  # noqa: F401

        # SQLite loses a table's triggers when a migration rebuilds it: put them back.
        post_migrate.connect(stamp_triggers.after_migrate, sender=self)
