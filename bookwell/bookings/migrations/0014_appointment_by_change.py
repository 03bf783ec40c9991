"""An index in the order of the API's pages and incremental sync: by change, then id."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0013_appointment_room_time"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["clinic", "updated_at", "id"], name="appointment_by_change"),
        ),
    ]
