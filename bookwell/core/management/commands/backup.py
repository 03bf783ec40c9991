"""`bookwell backup FILE`: a backup of the database (pg_dump's custom format on PostgreSQL,
SQLite's online backup otherwise). The master keys and the key store are not in it: back
them up apart (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bookwell.core.backup import BackupError, backup


class Command(BaseCommand):
    help = "Write a backup of the database to FILE (a new file)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            done = backup(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backup of the {done.engine} database ({done.tables} tables, {done.size} bytes) "
            f"written to {done.path}. The master keys and the key store are not in it."
        )
