"""Runs the test suite against PostgreSQL, in a throwaway database.

Creates (if missing) two roles: `bookwell_owner` owns the schema and runs migrations,
`bookwell_app` is the runtime role — not superuser, no BYPASSRLS, owns nothing — that the
tests then run as, so row-level security is exercised for real. pytest-django creates the
database and drops it at the end.

Without a reachable PostgreSQL this half is skipped loudly, unless CI=true: then it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

ADMIN_URL = os.environ.get("BOOKWELL_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HOST = os.environ.get("BOOKWELL_PG_HOST", "127.0.0.1:5432")
OWNER, APP = "bookwell_owner", "bookwell_app"


def main() -> int:
    pytest = sys.argv[1]
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            for role, extra in ((OWNER, "CREATEDB"), (APP, "")):
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone()
                if not exists:
                    conn.execute(f"CREATE ROLE {role} LOGIN {extra}")
            conn.execute(f"ALTER ROLE {APP} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
            conn.execute(f"ALTER ROLE {OWNER} NOSUPERUSER NOBYPASSRLS CREATEDB")
    except psycopg.OperationalError as exc:
        message = (
            f"PostgreSQL is not reachable at {ADMIN_URL.split('@')[-1]} ({exc.__class__.__name__})"
        )
        if os.environ.get("CI") == "true":
            print(f"!! {message}: CI requires the PostgreSQL suite.", file=sys.stderr)
            return 1
        print(
            "\n"
            + "!" * 78
            + f"\n!! SKIPPING the PostgreSQL suite: {message}."
            + "\n!! Start PostgreSQL to run it (see README).\n"
            + "!" * 78
            + "\n"
        )
        return 0
    env = dict(os.environ)
    name = f"bookwell_{os.getpid()}"
    env.update(
        DATABASE_URL=f"postgresql://{OWNER}@{HOST}/{name}",
        BOOKWELL_DB_APP_ROLE=APP,
        BOOKWELL_TEST_DB_NAME=f"test_{name}",
    )
    print(f"== PostgreSQL suite (database test_{name}, runtime role {APP})", flush=True)
    return subprocess.call([pytest, *sys.argv[2:]], env=env)  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
