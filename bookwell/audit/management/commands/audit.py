"""`bookwell audit verify [--chain N]`: checks every audit chain (or one) end to end."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bookwell.audit.services import audit_verify, chains


class Command(BaseCommand):
    help = "Checks the audit trail's hash chains: exits 1 at the first broken event."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="check the chains")
        verify.add_argument("--chain", type=int, help="one chain: a clinic id, 0 for platform")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = [options["chain"]] if options.get("chain") is not None else chains()
        broken = False
        for chain in wanted:
            report = audit_verify(chain)
            name = "platform" if chain == 0 else f"clinic {chain}"
            if report.intact:
                self.stdout.write(f"{name}: intact ({report.events} events)")
            else:
                broken = True
                self.stdout.write(f"{name}: BROKEN at event {report.broken_at} ({report.reason})")
        if broken:
            raise CommandError("the audit trail is not intact", returncode=1)
