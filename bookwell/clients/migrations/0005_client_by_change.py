"""An index in the order of the API's pages and incremental sync: by change, then id."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0004_consent_through_the_api"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["clinic", "updated_at", "id"], name="client_by_change"),
        ),
    ]
