"""A class's overlap key names its teacher: two staff members teaching one service at one time
hold two classes, which may not share a single room."""

import datetime as dt

from django.db import migrations


def rekey(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # a platform migration: every clinic's rows
            cursor.execute("SELECT set_config('bookwell.all_clinics', 'on', true)")
    appointment = apps.get_model("bookings", "Appointment")
    for row in appointment._base_manager.filter(group_seat=True).iterator():
        key = f"class:{row.service_id}:{row.staff_id}:{row.start.astimezone(dt.UTC).isoformat()}"
        appointment._base_manager.filter(pk=row.pk).update(overlap_key=key)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0008_overlap_guarantee_in_the_database")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
