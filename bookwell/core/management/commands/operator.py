"""`bookwell operator <email> [--revoke]`: who may open the operator pages."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bookwell.accounts.models import User


class Command(BaseCommand):
    help = "Grant (or with --revoke, take back) the operator pages to an existing user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args: Any, email: str, revoke: bool, **options: Any) -> None:
        updated = User.objects.filter(email__iexact=email).update(is_operator=not revoke)
        if not updated:
            raise CommandError("No user has that email address.")
        self.stdout.write("Operator access " + ("taken back." if revoke else "granted."))
