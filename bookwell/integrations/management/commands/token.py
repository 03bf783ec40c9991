"""`bookwell token create|list|revoke`: API tokens for operators (the secret printed once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import ServiceError
from bookwell.integrations.models import ApiToken
from bookwell.integrations.scopes import Scope
from bookwell.integrations.services import api_token_create, api_token_revoke
from bookwell.tenancy.models import Clinic


class Command(BaseCommand):
    help = "API tokens: create (prints the token once), list, revoke."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token and print it once")
        create.add_argument("--clinic", required=True, help="the clinic's slug")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            choices=[s.value for s in Scope],
            metavar="SCOPE",
            help="one or more of: " + ", ".join(s.value for s in Scope),
        )
        create.add_argument("--expires-in-days", type=int, default=None)
        listing = sub.add_parser("list", help="a clinic's tokens (prefixes, never secrets)")
        listing.add_argument("--clinic", required=True)
        revoke = sub.add_parser("revoke", help="stop a token at once")
        revoke.add_argument("--clinic", required=True)
        revoke.add_argument("--prefix", required=True, help="as shown by list")

    def handle(self, *args: Any, action: str, clinic: str, **options: Any) -> None:
        with platform_scope("an operator picks a clinic by its slug"):
            found = Clinic.objects.filter(slug=clinic).first()
        if found is None:
            raise CommandError(f"No clinic with the slug {clinic!r}.")
        with clinic_context(found):
            if action == "create":
                days = options["expires_in_days"]
                if days is not None and not 1 <= days <= 3650:
                    raise CommandError("--expires-in-days must be between 1 and 3650.")
                expires = timezone.now() + dt.timedelta(days=days) if days else None
                try:
                    token, secret = api_token_create(
                        clinic=found,
                        name=options["name"],
                        scopes=options["scopes"],
                        expires_at=expires,
                    )
                except ServiceError as exc:
                    raise CommandError(exc.message) from exc
                self.stdout.write(secret)
                self.stderr.write(
                    f"Token {token.prefix} made for {found.slug}. This is the only time it is "
                    "shown: store it now."
                )
            elif action == "list":
                for t in ApiToken.objects.order_by("created_at"):
                    state = "revoked" if t.revoked_at else "active"
                    self.stdout.write(
                        f"{t.prefix}\t{state}\t{' '.join(t.scopes)}\t"
                        f"last used {t.last_used_on or 'never'}\t{t.name}"
                    )
            else:
                token_row = ApiToken.objects.filter(prefix=options["prefix"]).first()
                if token_row is None:
                    raise CommandError("No such token in this clinic.")
                api_token_revoke(token=token_row)
                self.stdout.write(f"Token {token_row.prefix} revoked.")
