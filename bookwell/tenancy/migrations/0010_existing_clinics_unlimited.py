"""Allowances are enforced from 0009 on (P9). Clinics that existed before had no limits, and
their `plan` values named no allowances: they keep working as they did, on the unlimited
plan, until the operator assigns them one (/operator/clinics/). An installation whose own
plans (BOOKWELL_PLANS_FILE) have no "unlimited" keeps them on the plans they had."""

from django.conf import settings
from django.db import migrations

UNLIMITED = "unlimited"


def existing_clinics_unlimited(apps, schema_editor):  # noqa: ANN001 (migration signature)
    if UNLIMITED not in settings.PLANS:
        return
    Clinic = apps.get_model("tenancy", "Clinic")
    Clinic.objects.all().update(plan=UNLIMITED)


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0009_plan_usage")]

    operations = [
        migrations.RunPython(existing_clinics_unlimited, migrations.RunPython.noop),
    ]
