"""Fetching by id inside the active clinic: one helper, one answer (P1).

"Missing" and "belongs to another clinic" both raise Http404, so an id never reveals whether
it exists elsewhere.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, models, router
from django.http import Http404

from bookwell.core.context import require_clinic_id
from bookwell.core.db.statements import Rider, Shape, fetch_batch
from bookwell.core.models import TenantManager


@functools.cache
def _read[M: models.Model](model: type[M], alias: str) -> tuple[str, Shape[M], bool]:
    """One row by id (and clinic, for a tenant model), as a plain statement built once: the
    API and the staff pages fetch by id on nearly every request, and compiling the queryset
    cost several times the round trip (bench/api_load.py)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    shape = Shape(model, connection)
    pk = model._meta.pk
    assert pk is not None
    tenant = isinstance(model._default_manager, TenantManager)
    # Identifiers come from the model and are quoted; the values are bound parameters.
    sql = (
        f"SELECT {shape.select()} FROM {quote(model._meta.db_table)} "  # noqa: S608
        f"WHERE {quote(pk.column or pk.attname)} = %s"
    )
    if tenant:
        sql += f" AND {quote('clinic_id')} = %s"
    return sql, shape, tenant


_BAD_ID = (ObjectDoesNotExist, ValueError, TypeError, OverflowError, AttributeError)


def _ident(model: type[models.Model], pk: Any) -> Any:
    if isinstance(model._meta.pk, models.UUIDField):
        return pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    ident = int(pk)
    if not 0 < ident < 2**63:
        raise ValueError("id out of range")
    return ident


def access_in_clinic[M: models.Model](
    model: type[M], pk: Any, *, queryset: models.QuerySet[M] | None = None
) -> M:
    clinic_id = require_clinic_id()
    try:
        ident = _ident(model, pk)
        if queryset is not None:
            return queryset.get(pk=ident)
        return _fetch(model, ident, clinic_id)
    except _BAD_ID as exc:
        raise Http404(f"No {model._meta.verbose_name} with that id") from exc


def access_all_in_clinic(
    *wanted: tuple[type[models.Model], Any], keep: Collection[type[models.Model]] = ()
) -> list[Any]:
    """Several objects by id, each as access_in_clinic would answer (Http404 for any that is
    missing or another clinic's), read in one round trip (prepared, on PostgreSQL): a
    booking through the API names its service and staff member at least.

    The rows of the models in `keep` are kept to be confirmed later (hinted_in_clinic): a
    clinic's configuration (services, staff members), never a client's record."""
    clinic_id = require_clinic_id()
    alias = router.db_for_read(wanted[0][0])
    statements = []
    for model, pk in wanted:
        try:
            ident = _ident(model, pk)
        except _BAD_ID as exc:
            raise Http404(f"No {model._meta.verbose_name} with that id") from exc
        statements.append(_statement(model, alias, ident, clinic_id))
    found = []
    for (model, pk), rows in zip(wanted, fetch_batch(alias, statements), strict=True):
        if not rows:
            raise Http404(f"No {model._meta.verbose_name} with that id")
        found.append(_read(model, alias)[1].instance(rows[0]))
        if model in keep:
            _remember((alias, clinic_id, model, _ident(model, pk)), tuple(rows[0]))
    return found


# --- Rows read before, confirmed instead of read first -----------------------------------
# An API booking names its service and staff member, read by id in a round trip of their own
# before availability's (one of five; bench/api_load.py). The rows this process read last
# are kept here: a booking starts from them and reads them again in availability's round
# trip, and goes on only if they came back unchanged (`Hint.check`); otherwise it starts over
# from the rows as they are. Per process, per clinic, bounded; never trusted unconfirmed.

_HINTS: dict[tuple[str, int, type[models.Model], Any], tuple[Any, ...]] = {}
_HINTS_KEPT = 512
_HINTS_LOCK = threading.Lock()  # (a threaded server shares them between its threads)


def _remember(key: tuple[str, int, type[models.Model], Any], row: tuple[Any, ...]) -> None:
    with _HINTS_LOCK:
        if key not in _HINTS and len(_HINTS) >= _HINTS_KEPT:
            del _HINTS[next(iter(_HINTS))]  # the oldest
        _HINTS[key] = row


class StaleHint(Exception):
    """A row read before has changed (or is gone) since: start over from a fresh read."""


@dataclass
class Hint:
    """Instances from rows this process read before, and the reads that confirm them."""

    instances: list[Any]
    riders: list[Rider]
    expected: list[tuple[Any, ...]]
    keys: list[tuple[str, int, type[models.Model], Any]]

    def check(self) -> None:
        """Raises StaleHint (and forgets the rows) unless every read came back as before."""
        for rider, row in zip(self.riders, self.expected, strict=True):
            if not rider.done or [tuple(r) for r in rider.rows] != [row]:
                with _HINTS_LOCK:
                    for k in self.keys:
                        _HINTS.pop(k, None)
                raise StaleHint()


def hinted_in_clinic(*wanted: tuple[type[models.Model], Any]) -> Hint | None:
    """The objects as this process last read them in the active clinic (access_all_in_clinic),
    with the reads that confirm them; None unless every one was read before. Until its
    `check` passes, a hint is a guess: nothing may be written or answered from it."""
    clinic_id = require_clinic_id()
    alias = router.db_for_read(wanted[0][0])
    hint = Hint([], [], [], [])
    for model, pk in wanted:
        try:
            ident = _ident(model, pk)
        except _BAD_ID:
            return None
        key = (alias, clinic_id, model, ident)
        row = _HINTS.get(key)
        if row is None:
            return None
        hint.instances.append(_read(model, alias)[1].instance(row))
        hint.riders.append(Rider(*_statement(model, alias, ident, clinic_id)))
        hint.expected.append(row)
        hint.keys.append(key)
    return hint


def forget_hints() -> None:
    """Drops every row kept (tests start from none)."""
    with _HINTS_LOCK:
        _HINTS.clear()


def _statement(
    model: type[models.Model], alias: str, ident: Any, clinic_id: int
) -> tuple[str, list[Any]]:
    """The read of one row by id (and clinic, for a tenant model), with its values."""
    sql, _shape, tenant = _read(model, alias)
    pk = model._meta.pk
    assert pk is not None
    params = [pk.get_db_prep_value(ident, connections[alias])]
    if tenant:
        params.append(clinic_id)
    return sql, params


def _fetch[M: models.Model](model: type[M], ident: Any, clinic_id: int) -> M:
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql, params = _statement(model, alias, ident, clinic_id)
    shape = _read(model, alias)[1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist()  # type: ignore[attr-defined]
    return shape.instance(row)
