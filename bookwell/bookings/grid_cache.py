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
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.db import connection, connections
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import get_language

from bookwell.bookings.models import CalendarStamp
from bookwell.core.context import outside_tenancy
from bookwell.tenancy.models import Clinic

ALIAS = "calendar"
PAGES_ALIAS = "calendar_pages"


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


def cached[T](
    clinic: Clinic, parts: object, build: Callable[[], T], *, kind: str = "grid", alias: str = ALIAS
) -> T:
    """build() once per (clinic, calendar version, parts); parts must have a stable repr."""
    version = calendar_version(clinic)  # read before the data build() reads
    if version is None:
        return build()
    clinic_id = clinic.pk
    digest = hashlib.sha256(repr((clinic_id, version, parts)).encode()).hexdigest()
    key = f"{kind}:{digest}"
    cache = caches[alias]
    value: T | None = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, settings.CALENDAR_CACHE_SECONDS)
    return value


# Where a cached page's CSRF token goes. Random per process, so no text a page shows (a
# client's name, say) can spell it and have the token written into it.
_CSRF_SLOT = f"csrf-slot-{secrets.token_hex(16)}"

# The user's fields a page may show; the password hash and secrets stay out of the key.
_USER_KEY_LEAVES_OUT = frozenset({"password", "totp_secret", "session_salt", "last_login"})


def _viewer(request: HttpRequest, clinic: Clinic) -> tuple[object, ...]:
    """Everything about who is looking that the staff shell shows: their own fields, their
    role, the clinics in their switcher, and the clinic's own fields as read this request."""
    user: Any = request.user
    membership: Any = getattr(request, "membership", None)
    memberships: Any = getattr(request, "memberships", None) or ()
    return (
        tuple(
            (f.attname, getattr(user, f.attname, None))
            for f in user._meta.concrete_fields
            if f.attname not in _USER_KEY_LEAVES_OUT
        ),
        None if membership is None else (membership.pk, membership.role),
        tuple((m.pk, m.role, m.clinic.pk, m.clinic.slug, m.clinic.name) for m in memberships),
        tuple(
            (f.attname, clinic.__dict__[f.attname])
            for f in clinic._meta.concrete_fields
            if f.attname in clinic.__dict__  # the logo's bytes are not read (deferred)
        ),
    )


def cached_page(
    request: HttpRequest,
    clinic: Clinic,
    parts: object,
    template_name: str,
    context: Callable[[], dict[str, Any]],
) -> HttpResponse:
    """A whole staff page drawn once per (clinic, calendar version, parts, viewer, path,
    language), with this request's CSRF token written in on the way out.

    The grid is cached already; what is left of a page draw is the shell around it (header,
    switcher, navigation), which cost as much as the rest of the request together
    (bench/http_load.py). The page must depend only on the clinic's calendar data (the stamp
    covers it), `parts` (everything the view made of the query string), the viewer
    (`_viewer`), the path and the language, and on the CSRF token only through `csrf_token`
    (tests/bookings/test_grid_cache.py compares a cached page with one drawn afresh). A
    request with messages waiting is drawn afresh, so they are shown once, as always."""
    if len(get_messages(request)):  # counting does not mark them shown
        return render(request, template_name, context())
    # The path, not the query string: `parts` holds what the page made of it (stray
    # parameters make no new entries).
    key = (_viewer(request, clinic), request.path, get_language(), parts)

    def draw() -> str:
        return render_to_string(template_name, {**context(), "csrf_token": _CSRF_SLOT}, request)

    html = cached(clinic, key, draw, kind="page", alias=PAGES_ALIAS)
    return HttpResponse(html.replace(_CSRF_SLOT, get_token(request)))
