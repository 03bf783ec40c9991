"""A service's length and buffers are bounded in the database too: every booking's block is
then at most bookings.models.LONGEST_BLOCK, which availability's window read relies on."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0004_catalog_and_schedule_updated_at"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="service",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("duration_min__lte", 1440),
                    ("buffer_before_min__lte", 240),
                    ("buffer_after_min__lte", 240),
                ),
                name="service_block_bounded",
            ),
        ),
    ]
