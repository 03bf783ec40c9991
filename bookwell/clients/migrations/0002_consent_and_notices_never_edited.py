"""Consent records and published privacy notices are never edited (P18, P22), below the ORM too.

Triggers refuse any UPDATE except a link set to NULL (a deleted client or user). Deletion stays
possible: a clinic's purge removes its rows.
"""

from django.db import migrations

GUARDS = {
    # table: (columns that never change, columns that may only become NULL)
    "clients_consentrecord": (
        ["notice_id", "given_at", "method", "clinic_id"],
        ["client_id", "recorded_by_id"],
    ),
    "clients_privacynotice": (["version", "body", "effective_at", "clinic_id"], ["created_by_id"]),
}


def _condition(fixed, nullable, distinct):
    same = [f"NEW.{c} {distinct} OLD.{c}" for c in fixed]
    may_clear = [f"(NEW.{c} IS NULL OR NOT (NEW.{c} {distinct} OLD.{c}))" for c in nullable]
    return " OR ".join(same) + (" OR NOT (" + " AND ".join(may_clear) + ")" if may_clear else "")


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, (fixed, nullable) in GUARDS.items():
        if vendor == "postgresql":
            schema_editor.execute(
                f"""
                CREATE FUNCTION {table}_never_edited() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF {_condition(fixed, nullable, "IS DISTINCT FROM")} THEN
                        RAISE EXCEPTION '{table} rows are never edited';
                    END IF;
                    RETURN NEW;
                END $$;
                """
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_never_edited BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_never_edited()"
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f"CREATE TRIGGER {table}_never_edited BEFORE UPDATE ON {table} "
                f"WHEN {_condition(fixed, nullable, 'IS NOT')} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are never edited'); END"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in GUARDS:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_never_edited"
            + (f" ON {table}" if vendor == "postgresql" else "")
        )
        if vendor == "postgresql":
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_never_edited()")


class Migration(migrations.Migration):
    dependencies = [("clients", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
