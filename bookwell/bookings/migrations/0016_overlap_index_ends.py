"""The overlap indexes carry each booking's end (bookings.models.Appointment.Meta).

On PostgreSQL the new index is built beside the old one (CREATE INDEX CONCURRENTLY), the old
one dropped the same way and the new one renamed: bookings go on being read and written while
an upgrade rebuilds them, where a plain DROP and CREATE would hold every booking back until
the new index was complete. Elsewhere (SQLite) the index is simply replaced."""

from django.db import migrations, models

STAFF_OLD = models.Index(fields=["clinic", "staff", "block_start"], name="appointment_staff_time")
STAFF_NEW = models.Index(
    fields=["clinic", "staff", "block_start", "block_end"], name="appointment_staff_time"
)
ROOM_OLD = models.Index(
    condition=models.Q(("room__isnull", False)),
    fields=["clinic", "room", "block_start"],
    name="appointment_room_time",
)
ROOM_NEW = models.Index(
    condition=models.Q(("room__isnull", False)),
    fields=["clinic", "room", "block_start", "block_end"],
    name="appointment_room_time",
)


def _replace(schema_editor, model, old: models.Index, new: models.Index) -> None:
    quote = schema_editor.quote_name
    if schema_editor.connection.vendor != "postgresql":
        # (Not atomic either: a run stopped between the two goes on from where it was.)
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(old.name)}")
        schema_editor.add_index(model, new)
        return
    building = models.Index(fields=new.fields, condition=new.condition, name=f"{new.name}_new")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [building.name],
        )
        found = cursor.fetchone()
    if found is None or not found[0]:
        # A build interrupted earlier leaves an invalid index behind: start that one afresh
        # (a complete one, from a run stopped after it was built, is kept).
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(building.name)}")
        schema_editor.add_index(model, building, concurrently=True)
    schema_editor.remove_index(model, old, concurrently=True)
    schema_editor.rename_index(model, building, new)


def forwards(apps, schema_editor) -> None:
    appointment = apps.get_model("bookings", "Appointment")
    _replace(schema_editor, appointment, STAFF_OLD, STAFF_NEW)
    _replace(schema_editor, appointment, ROOM_OLD, ROOM_NEW)


def backwards(apps, schema_editor) -> None:
    appointment = apps.get_model("bookings", "Appointment")
    _replace(schema_editor, appointment, STAFF_NEW, STAFF_OLD)
    _replace(schema_editor, appointment, ROOM_NEW, ROOM_OLD)


class Migration(migrations.Migration):
    atomic = False  # (CONCURRENTLY cannot run in a transaction)

    dependencies = [
        ("bookings", "0015_appointment_hold"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="appointment", name="appointment_staff_time"),
                migrations.RemoveIndex(model_name="appointment", name="appointment_room_time"),
                migrations.AddIndex(model_name="appointment", index=STAFF_NEW),
                migrations.AddIndex(model_name="appointment", index=ROOM_NEW),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
