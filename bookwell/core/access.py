"""Fetching by id inside the active clinic: one helper, one answer (P1).

"Missing" and "belongs to another clinic" both raise Http404, so an id never reveals whether
it exists elsewhere.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, models, router
from django.http import Http404

from bookwell.core.context import require_clinic_id
from bookwell.core.db.statements import Shape, fetch_batch
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


def access_all_in_clinic(*wanted: tuple[type[models.Model], Any]) -> list[Any]:
    """Several objects by id, each as access_in_clinic would answer (Http404 for any that is
    missing or another clinic's), read in one round trip (prepared, on PostgreSQL): a
    booking through the API names its service and staff member at least."""
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
    for (model, _pk), rows in zip(wanted, fetch_batch(alias, statements), strict=True):
        if not rows:
            raise Http404(f"No {model._meta.verbose_name} with that id")
        found.append(_read(model, alias)[1].instance(rows[0]))
    return found


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
