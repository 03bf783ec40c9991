"""Is the application connected as a role that row-level security binds? (P1)"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connections


def database_role_problems(cursor: Any) -> list[str]:
    """What is wrong with the current PostgreSQL role as the runtime role; [] when all is well."""
    problems = []
    cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    superuser, bypass = cursor.fetchone()
    if superuser:
        problems.append("the application connects as a superuser")
    if bypass:
        problems.append("the application's role has BYPASSRLS")
    cursor.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
    )
    if cursor.fetchone()[0]:
        problems.append("the application's role owns tables (connect as a role that does not)")
    return problems


@checks.register(checks.Tags.database)
def check_runtime_role(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    if settings.DB_AS_OWNER:  # `bookwell migrate` as DATABASE_OWNER_URL: the owner, by design
        return messages
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            for problem in database_role_problems(cursor):
                messages.append(
                    checks.Error(
                        f"Row-level security would not apply: {problem}.",
                        hint="Set DATABASE_URL to the runtime role and DATABASE_OWNER_URL to the "
                        "owner (see README, Deployment).",
                        id="bookwell.E010",
                    )
                )
    return messages
