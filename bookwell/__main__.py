"""The `bookwell` command: Django's management commands with Bookwell's settings.

Extra commands: `serve` (gunicorn + WhiteNoise), `worker` (background work: periodic jobs,
tasks, notifications), `demo` (seeds the demo clinic).
Schema changes run as the database's owning role (DATABASE_OWNER_URL) when it is set.
"""

from __future__ import annotations

import os
import sys

OWNER_COMMANDS = {"migrate", "createcachetable", "sqlflush", "flush", "backup", "restore"}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "bookwell"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookwell.settings")
    if len(argv) > 1 and argv[1] in OWNER_COMMANDS:
        os.environ["BOOKWELL_DB_AS_OWNER"] = "1"
        production = os.environ.get("BOOKWELL_ENV") == "production"
        on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
        if production and on_postgres and not os.environ.get("DATABASE_OWNER_URL"):
            # Run as the runtime role, migrations would make it the owner of the tables, and
            # an owner can switch row-level security off.
            sys.stderr.write(
                "bookwell: refusing to change the schema as the runtime role: set "
                "DATABASE_OWNER_URL to the owning role.\n"
            )
            sys.exit(2)
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"bookwell: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
