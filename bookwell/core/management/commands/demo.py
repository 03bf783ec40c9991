from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bookwell.core.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create or refresh the demo clinic (idempotent) and print its sign-ins."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # Its users have a published password.
            raise CommandError("the demo clinic is not created in production")
        clinic = seed_demo()
        self.stdout.write(
            self.style.SUCCESS(f"Demo clinic ready: {clinic.name} (/c/{clinic.slug}/)")
        )
        self.stdout.write(f"Sign in at /signin/ with password {DEMO_PASSWORD!r} as:")
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.email:<28} {spec.role.label}")
