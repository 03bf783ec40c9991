"""The bookings in a room during a window, read by availability for services with rooms."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0012_waitlist_updated_at"),
        ("scheduling", "0005_service_block_bounded"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("room__isnull", False)),
                fields=["clinic", "room", "block_start"],
                name="appointment_room_time",
            ),
        ),
    ]
