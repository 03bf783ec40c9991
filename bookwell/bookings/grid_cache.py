"""Calendar grids cached per process, keyed by the clinic's calendar stamp.

Front-desk screens redraw the grid every 30 seconds and on every focus, so most draws repeat
the last one. The stamp (bookings.CalendarStamp) is raised by database triggers in the same
transaction as any change to what the grid shows, and it is read *before* the grid's data:
a grid cached under version v is at least as new as v, and after any commit every reader
sees a higher version and draws afresh. Nothing is served stale, whichever process or SQL
made the change.

The cache is the process's own memory (settings.CACHES["calendar"], never Redis): the grid
holds client names, which must not be copied into a shared store. Inside a transaction
(a page drawn after its own write, or a test) the cache is bypassed, because on PostgreSQL
the stamp is raised at commit.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connection, connections

from bookwell.bookings.models import CalendarStamp
from bookwell.core.context import outside_tenancy
from bookwell.tenancy.models import Clinic

ALIAS = "calendar"


@functools.cache
def _stamp_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    # Identifiers come from the model and are quoted; the id is a bound parameter. A plain
    # statement: compiling the queryset cost more than its round trip (bench/http_load.py).
    return (
        f"SELECT {quote('version')} FROM {quote(CalendarStamp._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('clinic_id')} = %s"
    )


def calendar_version(clinic: Clinic) -> int | None:
    """The clinic's stamp now, or None when caching cannot be trusted here.

    Staff pages read it with the user's memberships at the start of the request
    (tenancy.selectors.memberships_for_user), before any of the grid's data: that read is
    used when the clinic object carries it, saving a round trip on every calendar draw."""
    if connection.in_atomic_block or settings.CALENDAR_CACHE_SECONDS <= 0:
        return None
    if "calendar_version_read" in clinic.__dict__:
        read = clinic.__dict__["calendar_version_read"]
        return None if read is None else int(read)
    # The stamp table holds no clinic data and has no row policy.
    with outside_tenancy(), connection.cursor() as cursor:
        cursor.execute(_stamp_sql(connection.alias), [clinic.pk])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def cached[T](clinic: Clinic, parts: object, build: Callable[[], T]) -> T:
    """build() once per (clinic, calendar version, parts); parts must have a stable repr."""
    version = calendar_version(clinic)  # read before the data build() reads
    if version is None:
        return build()
    clinic_id = clinic.pk
    digest = hashlib.sha256(repr((clinic_id, version, parts)).encode()).hexdigest()
    key = f"grid:{digest}"
    cache = caches[ALIAS]
    value: T | None = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, settings.CALENDAR_CACHE_SECONDS)
    return value
