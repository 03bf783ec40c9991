"""Migration operation that puts a tenant table under row-level security (P1).

Used in every migration that creates a TenantModel; a test fails when a tenant table lacks it.
No-op on SQLite, where the tenant manager is the only guard.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation

POLICY = "bookwell_clinic_isolation"
_SCOPE = (
    "clinic_id = NULLIF(current_setting('bookwell.clinic_id', true), '')::bigint "
    "OR current_setting('bookwell.all_clinics', true) = 'on'"
)


class EnableTenantRLS(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.model_name], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _table(self, app_label: str, state: Any) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, to_state))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON {table} USING ({_SCOPE}) WITH CHECK ({_SCOPE})"
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.model_name.lower()}"


class ExcludeOverlaps(Operation):
    """A PostgreSQL exclusion constraint: no two rows with equal `keys` whose
    [start_field, end_field) ranges overlap, among rows matching `condition` (SQL).

    This is what makes double bookings impossible under concurrent requests: the database
    refuses the second row, whatever the application checked before. No-op on SQLite, where
    bookings run in a write-locked transaction with the overlap check inside it.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(
        self,
        model_name: str,
        name: str,
        keys: list[str],
        start_field: str,
        end_field: str,
        condition: str,
        differ: list[str] | None = None,
    ) -> None:
        self.model_name = model_name
        self.differ = differ or []  # columns that must differ for two rows to conflict
        self.name = name
        self.keys = keys
        self.start_field = start_field
        self.end_field = end_field
        self.condition = condition

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "model_name": self.model_name,
                "name": self.name,
                "keys": self.keys,
                "start_field": self.start_field,
                "end_field": self.end_field,
                "condition": self.condition,
                **({"differ": self.differ} if self.differ else {}),
            },
        )

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        q = schema_editor.quote_name
        table = q(model._meta.db_table)
        columns = [model._meta.get_field(k).column for k in self.keys]
        start = q(model._meta.get_field(self.start_field).column)
        end = q(model._meta.get_field(self.end_field).column)
        differ = [model._meta.get_field(k).column for k in self.differ]
        parts = (
            [f"{q(c)} WITH =" for c in columns]
            + [f"{q(c)} WITH <>" for c in differ]
            + [f"tstzrange({start}, {end}, '[)') WITH &&"]
        )
        # btree_gist is a trusted extension: the database owner may create it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {q(self.name)} EXCLUDE USING gist "
            f"({', '.join(parts)}) WHERE ({self.condition})"
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        q = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {q(model._meta.db_table)} DROP CONSTRAINT IF EXISTS {q(self.name)}"
        )

    def describe(self) -> str:
        return f"Exclude overlapping {self.model_name} rows ({self.name})"

    @property
    def migration_name_fragment(self) -> str:
        return f"exclude_{self.name}"
