"""Runs benchmarks against PostgreSQL, each in a throwaway database (issues 5 and 7 state
their goals for PostgreSQL).

    python scripts/bench-postgres.py bench/api_load.py bench/http_load.py

Like scripts/test-postgres.py: the schema belongs to `bookwell_owner` and the server runs as
`bookwell_app` (no superuser, no BYPASSRLS), so row-level security costs what it costs in
production. Without a reachable PostgreSQL the PostgreSQL figures are skipped, loudly.
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
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"!! SKIPPING the PostgreSQL benchmarks: not reachable ({exc.__class__.__name__})")
        return 0
    with admin:
        for role, extra in ((OWNER, "CREATEDB"), (APP, "")):
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                admin.execute(f"CREATE ROLE {role} LOGIN {extra}")
        status = 0
        for n, script in enumerate(sys.argv[1:]):
            name = f"bookwell_bench_{os.getpid()}_{n}"
            admin.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
            try:
                env = dict(
                    os.environ,
                    DATABASE_URL=f"postgresql://{APP}@{HOST}/{name}",
                    DATABASE_OWNER_URL=f"postgresql://{OWNER}@{HOST}/{name}",
                    BOOKWELL_DB_APP_ROLE=APP,
                )
                print(f"== {script} (PostgreSQL, runtime role {APP})", flush=True)
                status = status or subprocess.call([sys.executable, script], env=env)  # noqa: S603
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
