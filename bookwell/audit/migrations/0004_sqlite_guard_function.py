"""On SQLite the DELETE guard asks a function registered per connection (audit.guard)
instead of the permit table, which Django's flush of a test database empties first."""

from django.db import migrations

OLD = (
    "CREATE TRIGGER bookwell_audit_no_delete BEFORE DELETE ON audit_auditevent "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_purgepermit) "
    "BEGIN SELECT RAISE(ABORT, 'audit events are never changed or removed'); END"
)
NEW = (
    "CREATE TRIGGER bookwell_audit_no_delete BEFORE DELETE ON audit_auditevent "
    "WHEN NOT bookwell_audit_delete_allowed() "
    "BEGIN SELECT RAISE(ABORT, 'audit events are never changed or removed'); END"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS bookwell_audit_no_delete")
        schema_editor.execute(NEW)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS bookwell_audit_no_delete")
        schema_editor.execute(OLD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_new_context_action")]

    operations = [migrations.RunPython(forwards, backwards)]
