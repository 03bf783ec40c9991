"""The calendar stamp: a per-clinic version that database triggers raise whenever something
the calendar draws changes, so cached grids can be trusted (bookings.grid_cache).

Triggers, not Django signals: they also see queryset.update(), bulk writes, raw SQL and other
processes. On PostgreSQL they are deferred constraint triggers, so the stamp row is locked
only for the instant of the commit (two bookings in one clinic do not queue behind each
other's stamp), and a transaction raises a clinic's stamp once however many rows it wrote.
The stamp row is only ever updated by the triggers, never inserted, so deleting a clinic
cannot resurrect it; clinics get theirs when they are created (bookings.signals).
"""

import django.db.models.deletion
from django.db import migrations, models

WATCHED = [
    "bookings_appointment",
    "clients_client",
    "scheduling_staffmember",
    "scheduling_room",
    "scheduling_location",
    "scheduling_service",
    "scheduling_workinghours",
    "scheduling_dateoverride",
    "scheduling_timeoff",
    "scheduling_clinicclosure",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION bookwell_calendar_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
    done text;
BEGIN
    IF TG_OP = 'DELETE' THEN cid := OLD.clinic_id; ELSE cid := NEW.clinic_id; END IF;
    done := coalesce(nullif(current_setting('bookwell.calendar_bumped', true), ''), ',');
    IF position(',' || cid || ',' IN done) > 0 THEN
        RETURN NULL;  -- raised once already in this transaction
    END IF;
    PERFORM set_config('bookwell.calendar_bumped', done || cid || ',', true);
    UPDATE bookings_calendarstamp SET version = version + 1 WHERE clinic_id = cid;
    RETURN NULL;
END
$$;
"""


def create_triggers(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for table in WATCHED:
                cursor.execute(
                    f"CREATE CONSTRAINT TRIGGER bookwell_calendar_bump AFTER INSERT OR UPDATE "
                    f"OR DELETE ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                    f"EXECUTE FUNCTION bookwell_calendar_bump()"
                )
        else:  # SQLite: writers are serialised; the trigger runs inside the write
            for table in WATCHED:
                for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                    cursor.execute(
                        f"CREATE TRIGGER bookwell_calendar_bump_{table}_{event.lower()} "  # noqa: S608
                        f"AFTER {event} ON {table} BEGIN "
                        f"UPDATE bookings_calendarstamp SET version = version + 1 "
                        f"WHERE clinic_id = {row}.clinic_id; END"
                    )


def drop_triggers(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in WATCHED:
                cursor.execute(f"DROP TRIGGER IF EXISTS bookwell_calendar_bump ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS bookwell_calendar_bump()")
        else:
            for table in WATCHED:
                for event in ("insert", "update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS bookwell_calendar_bump_{table}_{event}")


def stamp_every_clinic(apps, schema_editor):
    clinic = apps.get_model("tenancy", "Clinic")
    stamp = apps.get_model("bookings", "CalendarStamp")
    stamp.objects.bulk_create(
        [stamp(clinic_id=pk, version=0) for pk in clinic.objects.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0009_class_keys_name_the_teacher"),
        ("tenancy", "0005_clinic_booking_page_settings"),
        ("clients", "0002_consent_and_notices_never_edited"),
        ("scheduling", "0002_service_assignment_policy"),
    ]

    operations = [
        migrations.CreateModel(
            name="CalendarStamp",
            fields=[
                (
                    "clinic",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="tenancy.clinic",
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(stamp_every_clinic, migrations.RunPython.noop),
    ]
