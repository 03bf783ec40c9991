"""P1 below the ORM: PostgreSQL row-level security, checked as the runtime role."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.utils import DatabaseError

from bookwell.core.context import clinic_context
from bookwell.core.models import TenantModel
from tests.factories import UserFactory
from tests.security.registry import TENANT_ROW_FACTORIES

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


def tenant_models() -> list[type[TenantModel]]:
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def test_every_tenant_model_has_a_row_factory_for_these_probes():
    labels = {m._meta.label for m in tenant_models()}
    assert labels == set(TENANT_ROW_FACTORIES), "add the new tenant model to TENANT_ROW_FACTORIES"


def test_every_tenant_table_has_row_security_enabled_and_forced():
    with connection.cursor() as cursor:
        for model in tenant_models():
            cursor.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
                [model._meta.db_table],
            )
            assert cursor.fetchone() == (True, True), model._meta.db_table
            cursor.execute(
                "SELECT count(*) FROM pg_policies WHERE tablename = %s", [model._meta.db_table]
            )
            assert cursor.fetchone()[0] >= 1, model._meta.db_table


def test_the_runtime_role_cannot_bypass_row_security():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname = 'public' AND tableowner = current_user"
        )
        assert cursor.fetchone()[0] == 0, "the runtime role must own no table"


def _raw_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def _raw_clinic_ids(table: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT clinic_id FROM "{table}"')
        return {row[0] for row in cursor.fetchall()}


def test_raw_sql_sees_nothing_without_a_clinic_and_only_b_with_b(clinic_a, clinic_b):
    for factory in TENANT_ROW_FACTORIES.values():
        factory(clinic_a)
        factory(clinic_b)

    for model in tenant_models():
        table = model._meta.db_table
        assert _raw_count(table) == 0, f"{table} leaks rows without a clinic context"
        with clinic_context(clinic_b):
            assert _raw_count(table) >= 1
            assert _raw_clinic_ids(table) == {clinic_b.pk}, table


def test_the_scope_does_not_outlive_its_context(clinic_a):
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_a)
    with clinic_context(clinic_a):
        assert _raw_count("tenancy_membership") == 1
    # Same connection, same transaction: once the context ends, raw SQL sees nothing again.
    assert _raw_count("tenancy_membership") == 0


def test_the_session_and_user_reads_leave_the_scope_alone_and_the_next_read_resets_it(
    clinic_a,
):
    """The two reads every signed-in request makes skip telling PostgreSQL the scope (they
    touch no clinic rows); the next statement that is not marked so still sets it."""
    from bookwell.accounts.backends import Backend, SessionStore

    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_a)
    user = UserFactory()
    store = SessionStore()
    store["n"] = 1
    store.save()
    with clinic_context(clinic_a):
        assert _raw_count("tenancy_membership") == 1
        held = connection._scope_in_effect
    assert SessionStore(store.session_key).load() == {"n": 1}
    found = Backend().get_user(user.pk)
    assert found is not None and found.pk == user.pk
    assert connection._scope_in_effect == held  # no round trip
    assert _raw_count("tenancy_membership") == 0  # and no clinic rows without a context


def test_rows_of_another_clinic_cannot_be_written_below_the_orm(clinic_a, clinic_b):
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_a)
    outsider = UserFactory()
    with clinic_context(clinic_b), connection.cursor() as cursor:
        cursor.execute("UPDATE tenancy_membership SET role = 'read_only'")
        assert cursor.rowcount == 0  # A's rows are invisible, so untouched
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(
                "INSERT INTO tenancy_membership (clinic_id, user_id, role, created_at) "
                "VALUES (%s, %s, 'owner', now())",
                [clinic_a.pk, outsider.pk],
            )
    with clinic_context(clinic_a):
        assert _raw_count("tenancy_membership") == 1


def test_server_side_cursors_run_in_the_clinic_scope_too(clinic_a, clinic_b):
    # QuerySet.iterator() uses a named (server-side) cursor on PostgreSQL; the scope must be
    # set on the connection, not declared as a cursor that never runs.
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_a)
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_b)
    from bookwell.tenancy.models import Membership

    with clinic_context(clinic_a):
        rows = list(Membership.objects.all().iterator(chunk_size=10))
    assert [m.clinic_id for m in rows] == [clinic_a.pk]


def test_prepared_statements_run_in_the_scope_of_each_call_not_of_their_first(clinic_a, clinic_b):
    """fetch_prepared (availability's reads) keeps its statements planned on the connection:
    the plan must not keep the clinic it was first run for. The scope goes ahead of the
    statements in their round trip, and nothing is seen without one."""
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_a)
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_b)
    TENANT_ROW_FACTORIES["tenancy.Membership"](clinic_b)
    sql = "SELECT clinic_id FROM tenancy_membership ORDER BY clinic_id"

    def seen() -> list[int]:
        (rows,) = connection.fetch_prepared([(sql, [])])
        return [row[0] for row in rows]

    for _ in range(7):  # past PostgreSQL's switch to a generic plan (after five runs)
        with clinic_context(clinic_a):
            assert seen() == [clinic_a.pk]
        with clinic_context(clinic_b):
            assert seen() == [clinic_b.pk, clinic_b.pk]
        assert seen() == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [sql])
        assert cursor.fetchone()[0] == 1  # prepared once, on this connection


def test_the_role_check_passes_for_the_runtime_role_and_fails_for_the_owner():
    import psycopg

    from bookwell.tenancy.checks import check_runtime_role, database_role_problems

    assert check_runtime_role(databases=["default"]) == []
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params["user"] = "bookwell_owner"
    with psycopg.connect(**params) as owner, owner.cursor() as cursor:
        problems = database_role_problems(cursor)
    assert problems == ["the application's role owns tables (connect as a role that does not)"]


def test_every_table_with_a_clinic_column_is_under_row_security():
    # Catches a clinic-owned table that does not inherit TenantModel.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'clinic_id' "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        rows = cursor.fetchall()
    assert rows, "expected clinic-owned tables"
    assert [r[0] for r in rows if not (r[1] and r[2]) and r[0] not in NOT_CLINIC_DATA] == []


# Tables with a clinic column that hold nothing of the clinic's, and why they stay outside
# row-level security. Each entry is a decision, not a convenience.
NOT_CLINIC_DATA = {
    # A counter per clinic id (bookings.grid_cache): database triggers must raise it whatever
    # clinic scope the writing connection carries at commit, or cached calendars go stale.
    "bookings_calendarstamp",
}


def test_migrate_runs_again_as_the_owner_with_the_runtime_role_configured():
    """An upgrade deploy runs `bookwell migrate` on a database that already has its tables:
    it signs in as DATABASE_OWNER_URL, which owns them by design, and must not be stopped by
    the runtime-role check (bookwell.E010), which is for DATABASE_URL."""
    from tests.factories import bookwell_as_deployed

    again = bookwell_as_deployed("migrate", "--no-input", "-v0")
    assert again.returncode == 0, again.stderr
    # The runtime role itself is still checked (and passes: it owns nothing).
    check = bookwell_as_deployed("check", "--database", "default")
    assert check.returncode == 0, check.stderr
