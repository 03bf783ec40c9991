"""P14/P16: client personal data is sealed per clinic and row; keys rotate without loss."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from bookwell.clients.models import Client
from bookwell.clients.rotation import rotate_clinic_key
from bookwell.clients.services import ClientInput, client_create
from bookwell.core import crypto
from bookwell.core.context import clinic_context, platform_scope
from bookwell.tenancy import keyring
from bookwell.tenancy.fields import FieldDecryptionError, Sealed, open_stored
from bookwell.tenancy.models import ClinicKey

pytestmark = pytest.mark.django_db

SENTINEL_NAME = "Zebulon Quixotic-Fairweather"
SENTINEL_EMAIL = "zebulon.sentinel@example.test"
SENTINEL_PHONE = "+49 30 98765432"
SENTINEL_E164 = "+493098765432"


def _make(clinic, **fields) -> Client:
    data = {"full_name": SENTINEL_NAME, "email": SENTINEL_EMAIL, "phone": SENTINEL_PHONE, **fields}
    with clinic_context(clinic):
        return client_create(clinic=clinic, data=ClientInput(**data))


def _raw_dump() -> str:
    """Every row of every table, as text, read below the ORM."""
    chunks = []
    with platform_scope("test: raw scan of every table"), connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                chunks.append(
                    " ".join(
                        bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v)
                        for v in row
                    )
                )
    return "\n".join(chunks)


def test_raw_tables_hold_no_plaintext_personal_data(clinic_a):
    from bookwell.clients import csv_io
    from bookwell.clients.services import client_update

    clinic_a.collect_date_of_birth = True
    clinic_a.save()
    client = _make(clinic_a, note="sentinel-note-text", date_of_birth="1971-02-03")
    with clinic_context(clinic_a):
        other = _make(clinic_a, full_name="Placeholder Name", email="x@example.test", phone="")
        client_update(
            clinic=clinic_a,
            client=other,
            data=ClientInput(full_name="Updated Ozymandias", email="updated.sentinel@example.test"),
        )
        csv_io.import_clients(
            clinic=clinic_a,
            data=b"full_name,email\nImported Quetzalcoatl,imported.sentinel@example.test\n",
        )
    rotate_clinic_key(clinic=clinic_a)

    dump = _raw_dump().lower()

    assert client.pk.hex in dump.replace("-", "")  # the scan does see the client row
    for secret in [
        "1971-02-03",
        "ozymandias",
        "updated.sentinel@example.test",
        "quetzalcoatl",
        "imported.sentinel@example.test",
        "placeholder",
        SENTINEL_NAME,
        "zebulon",
        "quixotic",
        SENTINEL_EMAIL,
        SENTINEL_E164,
        "98765432",
        "sentinel-note-text",
    ]:
        assert secret.lower() not in dump, secret


def test_fields_read_back_exactly(clinic_a):
    client = _make(clinic_a)
    with clinic_context(clinic_a):
        fresh = Client.objects.get(pk=client.pk)
        assert (fresh.full_name, fresh.email, fresh.phone) == (
            SENTINEL_NAME,
            SENTINEL_EMAIL,
            SENTINEL_E164,
        )


def _copy_column(field: str, from_pk, to_pk, target_field: str | None = None) -> None:
    with platform_scope("test: tamper below the ORM"), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {field} FROM clients_client WHERE id = %s",
            [from_pk.hex if connection.vendor == "sqlite" else from_pk],
        )
        value = cursor.fetchone()[0]
        cursor.execute(
            f"UPDATE clients_client SET {target_field or field} = %s WHERE id = %s",
            [value, to_pk.hex if connection.vendor == "sqlite" else to_pk],
        )


def test_a_ciphertext_copied_to_another_row_does_not_open(clinic_a):
    victim = _make(clinic_a)
    other = _make(clinic_a, email="other@example.test", full_name="Other Person")
    _copy_column("email", victim.pk, other.pk)
    with clinic_context(clinic_a):
        tampered = Client.objects.get(pk=other.pk)
        with pytest.raises(FieldDecryptionError, match=r"cannot decrypt clients\.Client\.email"):
            _ = tampered.email


def test_a_ciphertext_copied_to_another_field_does_not_open(clinic_a):
    victim = _make(clinic_a)
    _copy_column("email", victim.pk, victim.pk, target_field="note")
    with clinic_context(clinic_a):
        tampered = Client.objects.get(pk=victim.pk)
        assert tampered.email == SENTINEL_EMAIL
        with pytest.raises(FieldDecryptionError):
            _ = tampered.note


def test_a_ciphertext_moved_to_another_clinic_does_not_open(clinic_a, clinic_b):
    victim = _make(clinic_a)
    other = _make(clinic_b, email="b@example.test")
    _copy_column("full_name", victim.pk, other.pk)
    with clinic_context(clinic_b):
        tampered = Client.objects.get(pk=other.pk)
        with pytest.raises(FieldDecryptionError):
            _ = tampered.full_name


def test_a_corrupted_value_raises_rather_than_returning_garbage(clinic_a):
    client = _make(clinic_a)
    with clinic_context(clinic_a):
        fresh = Client.objects.get(pk=client.pk)
        token = fresh.__dict__["email"].token
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        fresh.__dict__["email"] = Sealed(flipped)
        with pytest.raises(FieldDecryptionError):
            _ = fresh.email
        fresh.__dict__["email"] = Sealed("not-a-token")
        with pytest.raises(FieldDecryptionError):
            _ = fresh.email


def test_a_value_read_without_its_instance_opens_only_for_its_own_row(clinic_a):
    """open_stored (list pages read one sealed column through values_list) checks the same
    binding as the field: model, field, clinic and row."""
    client = _make(clinic_a)
    other = _make(clinic_a, email="other@example.test", full_name="Other Person")
    with clinic_context(clinic_a):
        [(pk, clinic_id, sealed)] = Client.objects.filter(pk=client.pk).values_list(
            "pk", "clinic_id", "full_name"
        )
        assert isinstance(sealed, Sealed)
        assert open_stored(Client, "full_name", clinic_id, pk, sealed) == SENTINEL_NAME
        for model, field, clinic, row in [
            (Client, "full_name", clinic_id, other.pk),  # another row
            (Client, "email", clinic_id, pk),  # another field
            (Client, "full_name", clinic_id + 1, pk),  # another clinic
        ]:
            with pytest.raises(FieldDecryptionError):
                open_stored(model, field, clinic, row, Sealed(sealed.token))
        with pytest.raises(FieldDecryptionError, match="not an encrypted field"):
            open_stored(Client, "clinic", clinic_id, pk, Sealed(sealed.token))


def test_encrypted_fields_cannot_be_filtered_on(clinic_a):
    _make(clinic_a)
    with clinic_context(clinic_a), pytest.raises(TypeError, match="encrypted"):
        list(Client.objects.filter(email=SENTINEL_EMAIL))


def _new_master(key_id: str) -> tuple[str, bytes]:
    return (key_id, bytes([len(key_id)]) * 32)


def test_rotate_master_rewraps_data_keys_and_data_still_reads(clinic_a, settings):
    client = _make(clinic_a)
    old = settings.MASTER_KEYS[0]
    new = _new_master("m-next")

    with override_settings(MASTER_KEYS=[new, old]):
        call_command("keys", "rotate-master")
    with platform_scope("test"):
        assert set(ClinicKey.objects.values_list("master_key_id", flat=True)) == {"m-next"}

    keyring.forget_cached_keys()
    with override_settings(MASTER_KEYS=[new]), clinic_context(clinic_a):  # old key gone
        assert Client.objects.get(pk=client.pk).email == SENTINEL_EMAIL


def test_a_missing_or_wrong_master_key_is_named_by_id_only(clinic_a):
    _make(clinic_a)
    keyring.forget_cached_keys()
    wrong = ("dev1", b"\x07" * 32)
    with override_settings(MASTER_KEYS=[wrong]), pytest.raises(keyring.KeyringError) as exc:
        keyring.verify_master_keys()
    assert "'dev1'" in str(exc.value) or "dev1" in str(exc.value)
    assert base64.b64encode(wrong[1]).decode() not in str(exc.value)
    with (
        override_settings(MASTER_KEYS=[("other", b"\x01" * 32)]),
        pytest.raises(keyring.KeyringError, match="does not contain"),
    ):
        keyring.verify_master_keys()
    keyring.forget_cached_keys()


def test_data_keys_need_their_keystore_secret_besides_the_master_key(clinic_a):
    """A copy of the database and the master key are not enough (P16): the wrapped key opens
    only with its secret from the keystore, which lives outside the database."""
    from bookwell.tenancy import keystore

    client = _make(clinic_a)
    with platform_scope("test"):
        row = ClinicKey.objects.get(clinic=clinic_a)
    assert row.wrap_version == keyring.WRAP_VERSION == 2
    secret = keystore.secret_read(clinic_a.pk, row.uid)
    # Under the master key alone (the version-1 way) the stored key does not open.
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(
            dict(settings.MASTER_KEYS)[row.master_key_id],
            bytes(row.wrapped_key),
            keyring._aad(clinic_a.pk, row.uid),
        )
    keystore.secret_destroy(clinic_a.pk, row.uid)
    keyring.forget_cached_keys()
    try:
        with clinic_context(clinic_a), pytest.raises(FieldDecryptionError):
            _ = Client.objects.get(pk=client.pk).email
        with pytest.raises(keyring.KeyringError, match="BOOKWELL_KEYSTORE_DIR"):
            keyring.verify_master_keys()
    finally:  # put it back: the rest of the test database still uses it
        path = Path(settings.KEYSTORE_DIR) / str(clinic_a.pk) / f"{row.uid}.key"
        path.write_bytes(secret)
        keyring.forget_cached_keys()
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=client.pk).email == SENTINEL_EMAIL


def test_keys_wrapped_the_old_way_move_to_the_keystore_on_rotate_master(clinic_a):
    """Keys made before the keystore (wrap version 1) still open, and `keys rotate-master`
    (also run by the migration that brought the keystore) re-wraps them with a secret."""
    from bookwell.tenancy import keystore

    client = _make(clinic_a)
    with platform_scope("test"):
        row = ClinicKey.objects.get(clinic=clinic_a)
    data_key = keyring._unwrap(
        clinic_a.pk, row.uid, row.master_key_id, bytes(row.wrapped_key), row.wrap_version
    )
    master = dict(settings.MASTER_KEYS)[row.master_key_id]
    old_way = crypto.seal(master, data_key, keyring._aad(clinic_a.pk, row.uid))
    with platform_scope("test"):
        ClinicKey.objects.filter(pk=row.pk).update(wrapped_key=old_way, wrap_version=1)
    keystore.secret_destroy(clinic_a.pk, row.uid)
    keyring.forget_cached_keys()
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=client.pk).email == SENTINEL_EMAIL  # version 1 opens

    assert keyring.rewrap_all() == 1
    with platform_scope("test"):
        row = ClinicKey.objects.get(pk=row.pk)
    assert row.wrap_version == 2 and bytes(row.wrapped_key) != old_way
    assert keystore.secret_read(clinic_a.pk, row.uid)
    keyring.forget_cached_keys()
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=client.pk).email == SENTINEL_EMAIL
    assert keyring.rewrap_all() == 0  # nothing left to move


def test_interrupted_clinic_rotation_resumes_and_old_key_is_destroyed(clinic_a):
    clients = [
        _make(clinic_a, email=f"c{i}@example.test", full_name=f"Rotating Person{i}")
        for i in range(7)
    ]
    with clinic_context(clinic_a):
        old_version = keyring.active_version(clinic_a.pk)
        old_uid = keyring.active_key(clinic_a.pk).uid
        old_tokens = {c.pk: Client.objects.get(pk=c.pk).__dict__["email"].token for c in clients}

    first = rotate_clinic_key(clinic=clinic_a, batch_size=3, stop_after=3)  # "crash" after 1 batch
    with clinic_context(clinic_a):
        assert first == 3
        assert Client.objects.filter(key_version=old_version).count() == 4
        # Mid-rotation, everything still reads and new writes use the new key.
        assert sorted(c.email for c in Client.objects.all()) == sorted(
            f"c{i}@example.test" for i in range(7)
        )

    rest = rotate_clinic_key(clinic=clinic_a, batch_size=3)
    # The old key's keystore secret went with it: backups holding the old row cannot unwrap it.
    assert not (Path(settings.KEYSTORE_DIR) / str(clinic_a.pk) / f"{old_uid}.key").exists()
    with clinic_context(clinic_a):
        assert rest == 4
        new_version = keyring.active_version(clinic_a.pk)
        assert new_version > old_version
        assert set(ClinicKey.objects.values_list("version", flat=True)) == {new_version}
        for c in clients:
            fresh = Client.objects.get(pk=c.pk)
            assert fresh.key_version == new_version
            assert fresh.__dict__["email"].key_uid == keyring.active_key(clinic_a.pk).uid != old_uid
            assert fresh.email == c.email
            # The old ciphertext no longer opens: its key is destroyed, with its secret.
            fresh.__dict__["email"] = Sealed(old_tokens[c.pk])
            with pytest.raises(FieldDecryptionError):
                _ = fresh.email


def test_every_model_with_personal_fields_seals_them():
    from bookwell.tenancy.fields import EncryptedTextField

    personal = {"full_name", "email", "phone", "date_of_birth", "note"}
    for model in apps.get_models():
        if model._meta.app_label != "clients":
            continue
        for f in model._meta.concrete_fields:
            if f.name in personal:
                assert isinstance(f, EncryptedTextField), f"{model.__name__}.{f.name}"


@pytest.mark.django_db(transaction=True)
def test_a_rotation_during_an_unfinished_write_loses_nothing(clinic_a):
    """A writer sealing under the old key while a rotation starts: the rotation waits for it,
    then re-seals its row too, so nothing is left under the destroyed key."""
    import threading

    from django.db import connections, transaction

    _make(clinic_a, email="before@example.test")
    sealed = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with clinic_context(clinic_a), transaction.atomic():
                client_create(
                    clinic=clinic_a,
                    data=ClientInput(full_name="Slow Writer", email="slow@example.test"),
                )
                sealed.set()
                release.wait(timeout=5)  # still uncommitted when the rotation starts
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert sealed.wait(timeout=10)
    threading.Timer(1.0, release.set).start()
    rotate_clinic_key(clinic=clinic_a, batch_size=1)
    writer.join(timeout=20)

    assert errors == []
    keyring.forget_cached_keys()
    with clinic_context(clinic_a):
        emails = sorted(c.email for c in Client.objects.all())
        versions = list(ClinicKey.objects.values_list("version", flat=True))
    assert emails == ["before@example.test", "slow@example.test"]
    assert len(versions) == 1


@pytest.mark.django_db(transaction=True)
def test_a_rotation_during_an_unfinished_online_booking_loses_nothing(clinic_a):
    """An online booking reads the clinic's key in its availability round trip (and holds it
    there): a rotation that starts before it commits waits, then re-seals its note too."""
    import datetime as dt
    import threading

    from django.db import connections, transaction

    from bookwell.bookings.models import Appointment, Source
    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.scheduling.models import WorkingHours
    from tests.bookings.factories import schedule

    setup = schedule(clinic_a, min_notice_min=0)
    with clinic_context(clinic_a):
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=clinic_a,
                staff=setup.staff,
                location=setup.location,
                weekday=weekday,
                start_min=0,
                end_min=1440,
            )
        _make(clinic_a, email="before@example.test")  # the clinic's first key exists
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    sealed = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def slow_booking() -> None:
        try:
            with clinic_context(clinic_a), transaction.atomic():
                appointment_book(
                    clinic=clinic_a,
                    request=BookingRequest(
                        service=setup.service,
                        staff=setup.staff,
                        start=start,
                        source=Source.API,
                        note="Sealed before the rotation",
                    ),
                )
                sealed.set()
                release.wait(timeout=5)  # still uncommitted when the rotation starts
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    booking = threading.Thread(target=slow_booking)
    booking.start()
    assert sealed.wait(timeout=10)
    threading.Timer(1.0, release.set).start()
    rotate_clinic_key(clinic=clinic_a, batch_size=1)
    booking.join(timeout=20)

    assert errors == []
    keyring.forget_cached_keys()
    with clinic_context(clinic_a):
        notes = [str(a.note) for a in Appointment.objects.all()]
        versions = list(ClinicKey.objects.values_list("version", flat=True))
    assert notes == ["Sealed before the rotation"]
    assert len(versions) == 1
