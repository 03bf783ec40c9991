"""Backups of the database, and restoring one into an empty database (issue 11).

PostgreSQL: `pg_dump` in its custom format (compressed; `pg_restore` reads it) and
`pg_restore` in one transaction, stopping at the first error, keeping each object's owner; both
as DATABASE_BACKUP_URL's role, which row-level security must not filter (a superuser, or a
role with BYPASSRLS): the runtime role sees one clinic at a time, and the owner is held to the
policies too (FORCE). SQLite: the online backup API
(a consistent copy while the service runs).

A backup holds the data as stored: client fields and other sealed values stay encrypted under
the clinics' keys, which are wrapped by the master keys (BOOKWELL_MASTER_KEYS) and the key
store (BOOKWELL_KEYSTORE_DIR). Those are never in a backup and must be kept apart from it: a
restored database reads only with them, and destroying a clinic's keys (crypto-shredding, at
clinic deletion) makes its data unreadable in every backup too (docs/deploy.md).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why (no data in it)."""


@dataclass(frozen=True)
class Done:
    path: Path
    engine: str
    tables: int
    size: int


def _settings(alias: str) -> dict[str, Any]:
    return connections[alias].settings_dict


def _engine(alias: str) -> str:
    vendor = connections[alias].vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"backups of {vendor} databases are not supported")
    return vendor


def _pg_args(alias: str) -> tuple[list[str], dict[str, str]]:
    """The tools' connection: DATABASE_BACKUP_URL as libpq reads it (sslmode and every other
    option it carries count), with its password moved to PGPASSWORD (not in the process list);
    without one, the alias's own settings."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    from django.conf import settings

    env = dict(os.environ)
    url = settings.DATABASE_BACKUP_URL if alias == DEFAULT_DB_ALIAS else ""
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        if parts.password:
            env["PGPASSWORD"] = unquote(parts.password)
            netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
            parts = parts._replace(netloc=netloc)
        return ["--no-password", "--dbname", urlunsplit(parts)], env
    db = _settings(alias)
    args = ["--no-password", "--dbname", str(db["NAME"])]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [option, str(db[key])]
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools "
            "(Debian: postgresql-client), of the server's major version or newer"
        )
    return found


def _run(argv: list[str], env: dict[str, str]) -> None:
    # The tools' paths come from PATH lookups, the arguments from settings.
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        # The tool's own words: object names and the server's message (no row data).
        hint = ""
        if "row-level security" in result.stderr:
            hint = (
                " (row-level security filters this role: set DATABASE_BACKUP_URL to a "
                "superuser or a role with BYPASSRLS)"
            )
        raise BackupError(f"{Path(argv[0]).name} failed{hint}: {result.stderr.strip()[-2000:]}")


def table_count(alias: str = DEFAULT_DB_ALIAS) -> int:
    connection = connections[alias]
    with connection.cursor() as cursor:
        return len(connection.introspection.table_names(cursor))


def backup(path: Path, *, alias: str = DEFAULT_DB_ALIAS) -> Done:
    engine = _engine(alias)
    path = path.resolve()
    if path.exists():
        raise BackupError(f"{path} exists already: give a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    umask = os.umask(0o077)  # the file is the operator's alone from its first byte
    try:
        if engine == "postgresql":
            args, env = _pg_args(alias)
            _run([_tool("pg_dump"), "--format=custom", "--file", str(partial), *args], env)
        else:
            connection = connections[alias]
            connection.ensure_connection()
            with sqlite3.connect(partial) as target:
                connection.connection.backup(target)
            target.close()
        partial.chmod(0o600)  # encrypted fields or not, a backup is for the operator only
        partial.rename(path)
    finally:
        os.umask(umask)
        partial.unlink(missing_ok=True)
    return Done(path, engine, table_count(alias), path.stat().st_size)


def restore(path: Path, *, alias: str = DEFAULT_DB_ALIAS) -> Done:
    engine = _engine(alias)
    path = path.resolve()
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with path.open("rb") as f:
        head = f.read(16)
    kind = (
        "sqlite"
        if head.startswith(SQLITE_MAGIC)
        else "postgresql"
        if head.startswith(PG_MAGIC)
        else None
    )
    if kind is None:
        raise BackupError(f"{path} is not a Bookwell backup (neither pg_dump's nor SQLite's)")
    if kind != engine:
        raise BackupError(f"{path} is a {kind} backup; this database is {engine}")
    if existing := table_count(alias):
        raise BackupError(
            f"the database is not empty ({existing} tables): restore into a new, empty database"
        )
    if engine == "postgresql":
        args, env = _pg_args(alias)
        connections[alias].close()
        _run(
            [_tool("pg_restore"), "--exit-on-error", "--single-transaction", *args, str(path)],
            env,
        )  # fmt: skip
    else:
        connection = connections[alias]
        connection.ensure_connection()
        with sqlite3.connect(path) as source:
            source.backup(connection.connection)
        source.close()
    connections[alias].close()
    return Done(path, engine, table_count(alias), path.stat().st_size)
