from __future__ import annotations

import base64
import secrets
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bookwell.clients.rotation import rotate_clinic_key
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic


class Command(BaseCommand):
    help = "Encryption keys: generate-master, rotate-master, rotate-clinic --clinic SLUG, verify."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        gen = sub.add_parser("generate-master", help="print a new master key entry")
        gen.add_argument("--id", default="m" + secrets.token_hex(3))
        sub.add_parser(
            "rotate-master",
            help="re-wrap every clinic data key under the first key in BOOKWELL_MASTER_KEYS",
        )
        rc = sub.add_parser("rotate-clinic", help="re-encrypt one clinic under a new data key")
        rc.add_argument("--clinic", required=True, help="the clinic's slug")
        rc.add_argument("--batch-size", type=int, default=500)
        sub.add_parser("verify", help="check that every master key in use is configured and right")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "generate-master":
            key = base64.b64encode(secrets.token_bytes(32)).decode()
            self.stdout.write(f"{options['id']}:{key}")
            self.stderr.write(
                "Put it first in BOOKWELL_MASTER_KEYS (keep the old ones after it), "
                "then run: bookwell keys rotate-master"
            )
            return
        try:
            if action == "verify":
                keyring.verify_master_keys()
                self.stdout.write("master keys: ok")
            elif action == "rotate-master":
                count = keyring.rewrap_all()
                current = keyring.current_master_key_id()
                self.stdout.write(f"re-wrapped {count} data keys under master key {current!r}")
            elif action == "rotate-clinic":
                clinic = Clinic.objects.filter(slug=options["clinic"]).first()
                if clinic is None:
                    raise CommandError(f"no clinic with slug {options['clinic']!r}")

                def progress(done: int, total: int) -> None:
                    pct = 100 if total == 0 else done * 100 // total
                    sys.stderr.write(f"\rre-encrypting clients: {done}/{total} ({pct}%)")
                    sys.stderr.flush()

                done = rotate_clinic_key(
                    clinic=clinic, batch_size=options["batch_size"], progress=progress
                )
                sys.stderr.write("\n")
                self.stdout.write(
                    f"clinic {clinic.slug}: {done} clients re-encrypted; old keys destroyed"
                )
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from exc
