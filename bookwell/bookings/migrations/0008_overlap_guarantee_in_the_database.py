"""The no-overlap guarantee no longer depends on what the application writes (PostgreSQL).

- Every row that is not a class seat must carry its own id as overlap key (a CHECK), so two
  private bookings can never both hold the empty key and slip past the staff constraint.
- Whether a row holds its room alone is decided by the database from the room's capacity (a
  trigger), and the room constraint lets only the seats of one class share a single room.
- A room whose capacity changes updates the rows booked in it.
"""

from django.db import migrations

from bookwell.core.migration_ops import ExcludeOverlaps

LIVE = "status IN ('pending', 'confirmed', 'checked_in', 'completed', 'no_show')"

FORWARD = """
UPDATE bookings_appointment SET overlap_key = id::text
 WHERE NOT group_seat AND overlap_key <> id::text;
ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_overlap_key_is_own
 CHECK (group_seat OR overlap_key = id::text);

CREATE OR REPLACE FUNCTION bookwell_appointment_room_exclusive() RETURNS trigger
 LANGUAGE plpgsql AS $$
BEGIN
  NEW.room_exclusive := COALESCE(
    (SELECT r.capacity = 1 FROM scheduling_room r WHERE r.id = NEW.room_id), false);
  RETURN NEW;
END $$;
CREATE TRIGGER appointment_room_exclusive BEFORE INSERT OR UPDATE ON bookings_appointment
 FOR EACH ROW EXECUTE FUNCTION bookwell_appointment_room_exclusive();

CREATE OR REPLACE FUNCTION bookwell_room_capacity_changed() RETURNS trigger
 LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.capacity IS DISTINCT FROM OLD.capacity THEN
    UPDATE bookings_appointment SET room_exclusive = (NEW.capacity = 1) WHERE room_id = NEW.id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER room_capacity_changed AFTER UPDATE OF capacity ON scheduling_room
 FOR EACH ROW EXECUTE FUNCTION bookwell_room_capacity_changed();

UPDATE bookings_appointment a SET room_exclusive = (r.capacity = 1)
  FROM scheduling_room r WHERE r.id = a.room_id;
ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS appointment_no_room_overlap;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS appointment_room_exclusive ON bookings_appointment;
DROP FUNCTION IF EXISTS bookwell_appointment_room_exclusive();
DROP TRIGGER IF EXISTS room_capacity_changed ON scheduling_room;
DROP FUNCTION IF EXISTS bookwell_room_capacity_changed();
ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS appointment_overlap_key_is_own;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # a platform migration
            cursor.execute("SELECT set_config('bookwell.all_clinics', 'on', true)")
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0007_waitlist_entry_manage_link"),
        ("scheduling", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        ExcludeOverlaps(
            model_name="Appointment",
            name="appointment_no_room_overlap",
            keys=["clinic", "room"],
            differ=["overlap_key"],
            start_field="block_start",
            end_field="block_end",
            condition=f"room_exclusive AND {LIVE}",
        ),
    ]
