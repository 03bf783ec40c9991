"""Class seats inside the database's no-overlap guarantee.

Every appointment gets an overlap key: its own id, or for a seat the class it belongs to. The
staff exclusion constraint then refuses overlapping rows whose keys differ, so seats of one
class share their time while any other overlap (a private booking over a class, two classes of
one teacher) is refused by PostgreSQL itself, not only by the application's lock.
"""

import datetime as dt

from django.db import migrations, models

from bookwell.core.migration_ops import ExcludeOverlaps

LIVE = "status IN ('pending', 'confirmed', 'checked_in', 'completed', 'no_show')"


def fill_keys(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # a platform migration: every clinic's rows
            cursor.execute("SELECT set_config('bookwell.all_clinics', 'on', true)")
    appointment = apps.get_model("bookings", "Appointment")
    for row in appointment._base_manager.select_related("service").iterator():
        if row.group_seat:
            key = f"class:{row.service_id}:{row.start.astimezone(dt.UTC).isoformat()}"
        else:
            key = str(row.pk)
        appointment._base_manager.filter(pk=row.pk).update(overlap_key=key)


def drop_old_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS appointment_no_staff_overlap"
        )


class Migration(migrations.Migration):
    dependencies = [("bookings", "0004_appointment_override_reason")]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="overlap_key",
            field=models.CharField(default="", max_length=80),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.RunPython(drop_old_constraint, migrations.RunPython.noop),
        ExcludeOverlaps(
            model_name="Appointment",
            name="appointment_no_staff_overlap",
            keys=["clinic", "staff"],
            differ=["overlap_key"],
            start_field="block_start",
            end_field="block_end",
            condition=LIVE,
        ),
    ]
