"""Client search and import benchmark (issue 3).

A clinic with N clients (default 50,000) is imported from CSV into a throwaway SQLite
database (rows per second). The same names, emails and phones go into a plain, unencrypted
table. Then the same queries (name prefixes, emails, phones) run twice: through Bookwell's
blind-index search, fetching and decrypting the first page of 25, and as a plain
`icontains` (LIKE '%q%') over the plain table, fetching its first 25. The result is the ratio
of time per search, measured in the same run (goal: at most 3x).

    python bench/clients_search.py [--clients 50000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bookwell-bench-")
    os.environ.update(BOOKWELL_DATA_DIR=tmp, DJANGO_SETTINGS_MODULE="bookwell.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from bookwell.clients import csv_io
    from bookwell.clients.selectors import client_search
    from bookwell.core.context import clinic_context
    from bookwell.core.demo import FIRST_NAMES, LAST_NAMES
    from bookwell.tenancy.models import Clinic

    rng = random.Random(7)
    people = []
    for i in range(args.clients):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}-{rng.choice(LAST_NAMES)}"
        people.append((name, f"person{i}@example.com", f"+4930{10_000_000 + i}"))
    clinic = Clinic.objects.create(name="Bench", slug="bench", country="DE")

    # Imported in files of at most 10,000 rows (the import's per-file limit is 20,000).
    import_seconds = 0.0
    for start in range(0, len(people), 10_000):
        chunk = people[start : start + 10_000]
        csv_text = "full_name,email,phone\n" + "\n".join(",".join(p) for p in chunk)
        with clinic_context(clinic):
            started = time.perf_counter()
            report = csv_io.import_clients(clinic=clinic, data=csv_text.encode())
            import_seconds += time.perf_counter() - started
        assert report.imported == len(chunk), report.errors[:3]

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_plain (id integer primary key, name text, email text, phone text)"
        )
        cursor.executemany(
            "INSERT INTO bench_plain (name, email, phone) VALUES (%s, %s, %s)", people
        )

    # A new connection, as each request opens: it runs PRAGMA optimize (see settings), which
    # gathers the planner statistics that the now filled tables need.
    connection.close()

    queries: list[tuple[str, str]] = []
    for _ in range(args.queries):
        roll = rng.random()
        name, email, phone = rng.choice(people)
        if roll < 0.6:
            word = rng.choice(name.replace("-", " ").split())
            queries.append(("name", word[: rng.randint(2, 5)]))
        elif roll < 0.8:
            queries.append(("email", email))
        else:
            queries.append(("phone", phone))

    def blind(q: str) -> int:
        with clinic_context(clinic):
            page = list(client_search(clinic=clinic, query=q)[:25])
            return sum(len(c.full_name) + len(c.email) + len(c.phone) for c in page)

    column = {"name": "name", "email": "email", "phone": "phone"}

    def plain(kind: str, q: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT name, email, phone FROM bench_plain WHERE {column[kind]} "
                "LIKE %s ESCAPE '\\' ORDER BY id DESC LIMIT 25",
                [f"%{q}%"],
            )
            return sum(len(a) + len(b) + len(c) for a, b, c in cursor.fetchall())

    # Warm up both paths, then alternate rounds so that neither gets a quieter machine.
    for kind, query in queries[:20]:
        blind(query)
        plain(kind, query)
    blind_time = plain_time = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _kind, query in queries:
            blind(query)
        blind_time += time.perf_counter() - t
        t = time.perf_counter()
        for kind, query in queries:
            plain(kind, query)
        plain_time += time.perf_counter() - t
    n = 3 * len(queries)
    per_blind, per_plain = blind_time / n, plain_time / n
    print(f"clients: {args.clients}, searches: {n}")
    print(f"import: {args.clients / import_seconds:,.0f} rows/s ({import_seconds:.1f} s)")
    print(f"blind-index search: {per_blind * 1000:.2f} ms per search (first page, decrypted)")
    print(f"plain icontains search: {per_plain * 1000:.2f} ms per search (baseline)")
    print(f"ratio blind/plain: {per_blind / per_plain:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
