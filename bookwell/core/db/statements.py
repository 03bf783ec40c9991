"""Column lists for the few hot reads written as plain statements (built once per process
from the models' metadata; identifiers quoted, values always bound parameters)."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model


def columns(model: type[Model], connection: BaseDatabaseWrapper, *, leave_out: str = "") -> str:
    """The model's concrete columns, quoted, comma-separated (`leave_out`: a field name
    left deferred)."""
    quote = connection.ops.quote_name
    return ", ".join(
        quote(f.column or f.attname) for f in model._meta.concrete_fields if f.name != leave_out
    )
