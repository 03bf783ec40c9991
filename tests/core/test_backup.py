"""`bookwell backup` and `bookwell restore` (issue 11), on SQLite and PostgreSQL: a demo
installation is backed up, restored into a fresh, empty database, and has the same rows, its
encrypted client fields read with the same master keys and key store, and read with no
others (the keys are kept apart from backups: crypto-shredding depends on it). Restoring over
a database that has tables, or a file that is not a backup, is refused and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BOOKWELL = [sys.executable, "-m", "bookwell"]
# It makes its own databases of both kinds: run once, in the SQLite suite.
pytestmark = pytest.mark.skipif(
    "postgresql" in os.environ.get("DATABASE_URL", ""),
    reason="runs in the SQLite suite (it makes its own PostgreSQL databases)",
)
PG_ADMIN = os.environ.get("BOOKWELL_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
OWNER, APP = "bookwell_owner", "bookwell_app"  # the roles scripts/test-postgres.py uses

PROBE = """
import json
from django.db import connection
from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic
with connection.cursor() as cursor:
    tables = connection.introspection.table_names(cursor)
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
clinic = Clinic.objects.get(slug="demo")
try:
    with clinic_context(clinic):
        names = sorted(c.full_name for c in Client.objects.all())
except Exception as exc:
    names = type(exc).__name__
print(json.dumps({"counts": counts, "names": names}))
"""


def _env(data: Path, database_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env.update(BOOKWELL_DATA_DIR=str(data), DATABASE_URL=database_url, **more)
    return env


def _bookwell(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*BOOKWELL, *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _probe(env: dict[str, str]) -> dict:
    # Counted as the backup role (row-level security would hide rows from the runtime role).
    env = {**env, "DATABASE_URL": env.get("DATABASE_BACKUP_URL", env["DATABASE_URL"])}
    return json.loads(_bookwell(env, "shell", "-c", PROBE).stdout.strip().splitlines()[-1])


Instance = Callable[[Path, str], dict[str, str]]


@pytest.fixture(params=["sqlite", "postgresql"])
def instance(request, tmp_path: Path) -> Iterator[Instance]:
    """Makes an installation's environment: its data directory (keys) and a fresh, empty
    database of the kind under test, by name."""
    if request.param == "sqlite":
        yield lambda data, name: _env(data, f"sqlite:///{tmp_path / name}.sqlite3")
        return
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no PostgreSQL to try backups on")
    # As deployed: an owning role runs migrations, a runtime role under row-level security
    # serves, and backups run as the superuser (which RLS does not filter).
    for role, extra in ((OWNER, "CREATEDB"), (APP, "")):
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            admin.execute(f"CREATE ROLE {role} LOGIN {extra}")
    base = PG_ADMIN.rsplit("/", 1)[0]
    host = base.split("@", 1)[1]
    made: list[str] = []

    def make(data: Path, name: str) -> dict[str, str]:
        db = f"bw_backup_{uuid.uuid4().hex[:8]}_{name}"
        admin.execute(f'CREATE DATABASE "{db}" OWNER {OWNER}')
        made.append(db)
        return _env(
            data,
            f"postgresql://{APP}@{host}/{db}",
            DATABASE_OWNER_URL=f"postgresql://{OWNER}@{host}/{db}",
            DATABASE_BACKUP_URL=f"{base}/{db}",
            BOOKWELL_DB_APP_ROLE=APP,
        )

    try:
        yield make
    finally:
        for db in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def test_a_backup_restores_into_an_empty_database_and_reads_with_the_same_keys(
    instance: Instance, tmp_path: Path
):
    keys = tmp_path / "instance"  # the master keys and key store live here, not in backups
    source = instance(keys, "a")
    _bookwell(source, "migrate", "-v0")
    _bookwell(source, "demo")
    before = _probe(source)
    assert before["counts"]["clients_client"] >= 5 and isinstance(before["names"], list)

    backup = tmp_path / "backups" / "bookwell.backup"
    made = _bookwell(source, "backup", str(backup))
    assert "The master keys and the key store are not in it." in made.stdout
    assert backup.stat().st_mode & 0o077 == 0  # for the operator only
    raw = backup.read_bytes()
    for name in before["names"]:
        assert name.encode() not in raw  # client fields stay encrypted in the backup

    target = instance(keys, "b")
    restored = _bookwell(target, "restore", str(backup))
    assert "Restored" in restored.stdout
    after = _probe(target)
    assert after["counts"] == before["counts"]
    assert after["names"] == before["names"]

    # The same backup, restored where the keys are not: the rows are there, unreadable.
    elsewhere = instance(tmp_path / "another-instance", "c")
    _bookwell(elsewhere, "restore", str(backup))
    stranger = _probe(elsewhere)
    assert stranger["counts"] == before["counts"]
    assert not isinstance(stranger["names"], list)  # a decryption error, not the names


def test_restore_refuses_a_database_with_tables_and_a_file_that_is_no_backup(
    tmp_path: Path,
):
    env = _env(tmp_path / "instance", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _bookwell(env, "migrate", "-v0")
    backup = tmp_path / "b.backup"
    _bookwell(env, "backup", str(backup))
    again = _bookwell(env, "backup", str(backup), check=False)
    assert again.returncode != 0 and "exists already" in again.stderr
    over = _bookwell(env, "restore", str(backup), check=False)
    assert over.returncode != 0 and "not empty" in over.stderr
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"hello, not a backup")
    empty = _env(tmp_path / "instance", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    refused = _bookwell(empty, "restore", str(junk), check=False)
    assert refused.returncode != 0 and "is not a Bookwell backup" in refused.stderr
    assert not (tmp_path / "empty.sqlite3").exists() or _tables(tmp_path / "empty.sqlite3") == 0


def _tables(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type='table'").fetchone()[0]


def test_the_tools_connect_as_the_backup_url_says_with_the_password_kept_off_the_command_line():
    from django.test import override_settings

    from bookwell.core.backup import _pg_args

    url = "postgresql://backup:s3cr%40t@db.example.org:6432/bookwell?sslmode=verify-full"
    with override_settings(DATABASE_BACKUP_URL=url):
        args, env = _pg_args("default")
    assert args == [
        "--no-password", "--dbname",
        "postgresql://backup@db.example.org:6432/bookwell?sslmode=verify-full",
    ]  # fmt: skip
    assert env["PGPASSWORD"] == "s3cr@t"
