"""Allowances are enforced from 0009 on (P9). Clinics that existed before had no limits, and
their `plan` values named no allowances: they keep working as they did, on the unlimited
plan, until the operator assigns them one (/operator/clinics/)."""

from django.db import migrations


def existing_clinics_unlimited(apps, schema_editor):  # noqa: ANN001 (migration signature)
    Clinic = apps.get_model("tenancy", "Clinic")
    Clinic.objects.all().update(plan="unlimited")


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0009_plan_usage")]

    operations = [
        migrations.RunPython(existing_clinics_unlimited, migrations.RunPython.noop),
    ]
