"""The calendar stamp's triggers (see migration 0010 and bookings.grid_cache).

SQLite drops a table's triggers whenever a migration rebuilds the table (it does so for many
column changes), so they are recreated after every `migrate` (post_migrate): a grid cache
whose stamp stopped moving would serve stale calendars. PostgreSQL keeps triggers across
ALTER TABLE; there the same statements are idempotent.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

WATCHED = [
    "bookings_appointment",
    "clients_client",
    "scheduling_staffmember",
    "scheduling_room",
    "scheduling_location",
    "scheduling_service",
    "scheduling_workinghours",
    "scheduling_dateoverride",
    "scheduling_timeoff",
    "scheduling_clinicclosure",
]
STAMP_TABLE = "bookings_calendarstamp"


def sqlite_trigger_names() -> list[str]:
    return [
        f"bookwell_calendar_bump_{table}_{event}"
        for table in WATCHED
        for event in ("insert", "update", "delete")
    ]


def ensure(connection: BaseDatabaseWrapper) -> None:
    """Creates any missing trigger (PostgreSQL: the function and triggers from 0010 stay)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if STAMP_TABLE not in tables:
            return  # before migration 0010
        for table in WATCHED:
            if table not in tables:
                continue
            for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS "  # noqa: S608 (fixed names, no input)
                    f"bookwell_calendar_bump_{table}_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN "
                    f"UPDATE {STAMP_TABLE} SET version = version + 1 "
                    f"WHERE clinic_id = {row}.clinic_id; END"
                )


def present(connection: BaseDatabaseWrapper) -> set[str]:
    """Names of the stamp triggers that exist (for checks and tests)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            return {r[0] for r in cursor.fetchall() if r[0].startswith("bookwell_calendar")}
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'bookwell_calendar_bump'"
        )
        return {r[0] for r in cursor.fetchall()}


def after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    ensure(connections[using])
