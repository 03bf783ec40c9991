"""Hand-written statements for the few hot reads every signed-in request makes (built once
per process from the models' metadata; identifiers quoted, values always bound parameters).

A compiled queryset costs more Python time than its database round trip for these one-row
reads, and the ORM cannot fetch two unrelated models in one statement; `Shape` lists the
columns of one model in a statement and turns its part of a row back into an instance, with
the same database converters the ORM applies (SQLite hands back booleans as integers and
times as text).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

type Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class Shape[M: Model]:
    """One model's columns in a hand-written statement, and its instances from the rows."""

    def __init__(
        self, model: type[M], connection: BaseDatabaseWrapper, *, leave_out: str = ""
    ) -> None:
        self.model = model
        # Built once per process and shared by threads: keep the alias, not the connection
        # (each thread has its own); the quoting and converters depend only on the backend.
        self.alias = connection.alias
        self._quote = connection.ops.quote_name
        self.fields: list[Field[Any, Any]] = [
            f for f in model._meta.concrete_fields if f.name != leave_out
        ]
        self.names = [f.attname for f in self.fields]
        self.width = len(self.fields)
        table = model._meta.db_table
        self._converters: list[tuple[int, list[Converter], Any]] = []
        for i, field in enumerate(self.fields):
            col = field.get_col(table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self._converters.append((i, found, col))

    def select(self, table_alias: str = "") -> str:
        quote = self._quote
        prefix = f"{quote(table_alias)}." if table_alias else ""
        return ", ".join(f"{prefix}{quote(f.column or f.attname)}" for f in self.fields)

    def instance(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance held by row[start:start + width] (left-out fields stay deferred)."""
        values = list(row[start : start + self.width])
        if self._converters:
            connection = connections[self.alias]
            for i, converters, col in self._converters:
                value = values[i]
                for convert in converters:
                    value = convert(value, col, connection)
                values[i] = value
        return self.model.from_db(self.alias, self.names, values)


class Columns:
    """Chosen columns of one or more tables in a hand-written statement, and their Python
    values from its rows (the same converters the ORM applies; no model instances).

    `columns` are (table alias, model, field name) triples, in select order."""

    def __init__(
        self, connection: BaseDatabaseWrapper, *columns: tuple[str, type[Model], str]
    ) -> None:
        self.alias = connection.alias
        quote = connection.ops.quote_name
        parts = []
        self._converters: list[tuple[int, list[Converter], Any]] = []
        for i, (table_alias, model, name) in enumerate(columns):
            field = model._meta.get_field(name)
            assert isinstance(field, Field) and field.concrete, name
            parts.append(f"{quote(table_alias)}.{quote(field.column or field.attname)}")
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self._converters.append((i, found, col))
        self.sql = ", ".join(parts)

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        if not self._converters:
            return [list(row) for row in rows]
        connection = connections[self.alias]
        out = []
        for row in rows:
            values = list(row)
            for i, converters, col in self._converters:
                value = values[i]
                for convert in converters:
                    value = convert(value, col, connection)
                values[i] = value
            out.append(values)
        return out


@dataclass
class Rider:
    """A read of the caller's that goes in another read's round trip (the availability reads
    a booking makes anyway); its rows are in `rows` once that round trip is done."""

    sql: str
    params: list[Any]
    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    done: bool = False


def placeholders(count: int) -> str:
    """`%s, %s, ...` for an IN list of `count` bound values (at least one)."""
    return ", ".join(["%s"] * max(count, 1))


def fetch_batch(
    alias: str, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[list[tuple[Any, ...]]]:
    """Each statement's rows (none for a write without RETURNING): on PostgreSQL as prepared
    statements in one round trip (core.db.postgresql's fetch_prepared), elsewhere one after
    another."""
    connection = connections[alias]
    fetch_prepared = getattr(connection, "fetch_prepared", None)
    if fetch_prepared is not None:
        found: list[list[tuple[Any, ...]]] = fetch_prepared(statements)
        return found
    out = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            out.append(cursor.fetchall() if cursor.description is not None else [])
    return out


@functools.cache
def _insert_sql(alias: str, model: type[Model]) -> tuple[str, tuple[Field[Any, Any], ...]]:
    quote = connections[alias].ops.quote_name
    fields = tuple(
        f
        for f in model._meta.concrete_fields
        if not getattr(f, "generated", False) and not getattr(f, "db_returning", False)
    )
    columns = ", ".join(quote(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (model's names)
        f"VALUES ({placeholders(len(fields))})"
    )
    return sql, fields


def insert_statement(obj: Model, alias: str | None = None) -> tuple[str, list[Any]]:
    """The INSERT of a new instance as one statement, for a caller that sends it with others
    in one round trip (fetch_batch): every concrete field but a database-generated key, the
    values prepared as the ORM prepares them (pre_save: auto_now stamps, sealing). The
    instance then counts as saved. No signals are sent; a model that needs them is saved with
    save()."""
    model = type(obj)
    alias = alias or router.db_for_write(model)
    sql, fields = _insert_sql(alias, model)
    connection = connections[alias]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    obj._state.adding = False
    obj._state.db = alias
    return sql, params


@functools.cache
def counter_upsert(
    alias: str, model: type[Model], keys: tuple[str, ...], counter: str, rows: int = 1
) -> str:
    """`INSERT .. ON CONFLICT (keys) DO UPDATE SET counter = counter + n RETURNING counter`
    for a counter row (usage counts, plan allowances): one atomic statement, the same on
    PostgreSQL and SQLite (3.35+), whose row stays locked to the caller's commit. Values are
    bound in the order of `keys`, then the amount to add. With `rows` (distinct keys each),
    that many counters in one statement, each returned after its keys."""
    quote = connections[alias].ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(_column(model, k)) for k in keys)
    value = quote(counter)
    values = ", ".join([f"({placeholders(len(keys) + 1)})"] * rows)
    returning = value if rows == 1 else f"{columns}, {value}"
    return (
        f"INSERT INTO {table} ({columns}, {value}) "  # noqa: S608 (names from the model)
        f"VALUES {values} "
        f"ON CONFLICT ({columns}) "
        f"DO UPDATE SET {value} = {table}.{value} + excluded.{value} RETURNING {returning}"
    )


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column, name
    return str(field.column)
