"""Migration 0016 rebuilds the overlap indexes without holding bookings back: on PostgreSQL
the new index is built beside the old one, concurrently, and takes its name; and it runs both
ways on a real database as its owner."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from tests.factories import bookwell_as_deployed

pytestmark = pytest.mark.postgres

MIGRATION = importlib.import_module("bookwell.bookings.migrations.0016_overlap_index_ends")


@pytest.fixture(autouse=True)
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


@pytest.mark.django_db
def test_the_indexes_are_built_concurrently_and_never_dropped_before_their_replacement():
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        MIGRATION.forwards(apps, editor)
    sql = [s.strip() for s in editor.collected_sql]
    assert MIGRATION.Migration.atomic is False  # (CONCURRENTLY refuses a transaction)
    for name in ("appointment_staff_time", "appointment_room_time"):
        built = next(
            i
            for i, s in enumerate(sql)
            if s.startswith("CREATE INDEX CONCURRENTLY") and f'"{name}_new"' in s
        )
        dropped = next(
            i for i, s in enumerate(sql) if s.startswith("DROP INDEX") and f'"{name}"' in s
        )
        renamed = next(
            i for i, s in enumerate(sql) if s.startswith("ALTER INDEX") and f'"{name}_new"' in s
        )
        assert built < dropped < renamed
        assert sql[dropped].startswith("DROP INDEX CONCURRENTLY")
        assert '"block_end"' in sql[built]
    assert not [
        s for s in sql if s.startswith(("CREATE INDEX ", "DROP INDEX ")) and "CONCURRENTLY" not in s
    ]


def _indexdef(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        (found,) = cursor.fetchall()
    return str(found[0])


def _migrate(target: str) -> None:
    done = bookwell_as_deployed("migrate", "bookings", target, "--no-input", "-v0")
    assert done.returncode == 0, done.stderr


@pytest.mark.django_db(transaction=True)  # (a concurrent build waits for open transactions)
def test_the_migration_runs_both_ways_as_the_owner():
    assert "block_end" in _indexdef("appointment_staff_time")
    try:
        _migrate("0015")
        assert "block_end" not in _indexdef("appointment_staff_time")
        assert "block_end" not in _indexdef("appointment_room_time")
    finally:
        _migrate("0016")
    assert "block_end" in _indexdef("appointment_staff_time")
    assert "block_end" in _indexdef("appointment_room_time")
    assert "WHERE (room_id IS NOT NULL)" in _indexdef("appointment_room_time")
