"""`bookwell restore FILE`: restores a backup made by `bookwell backup` into an empty database
(of the same kind). Encrypted fields read again only with the same master keys and key
store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bookwell.core.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup FILE into the (empty) database."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            done = restore(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {done.path} into the {done.engine} database ({done.tables} tables)."
        )
