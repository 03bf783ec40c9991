"""Re-encrypting a clinic under a new data key, in resumable batches (P14).

1. In one short transaction that locks the clinic's key rows: a new data key version becomes
   active (unless a rotation is being resumed) and older versions are retired. Writers hold
   the active key row FOR SHARE until they commit (keyring.active_key), so this waits for
   every in-flight write; after it, all new writes use the new key.
2. Rows still sealed under an older version are re-sealed (and clients re-indexed), a batch
   per transaction. An interruption loses at most the batch in flight; a rerun continues.
3. In one transaction that locks the old key rows: if no row is left under an old version,
   the old versions are destroyed (nothing opens under them any more); otherwise back to 2.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models, transaction

from bookwell.bookings.models import Appointment
from bookwell.clients.models import Client, ClientIndex
from bookwell.clients.services import _index_rows, index_insert
from bookwell.core.context import clinic_context
from bookwell.integrations.models import WebhookEndpoint
from bookwell.payments.models import PaymentSettings
from bookwell.tenancy import keyring
from bookwell.tenancy.fields import EncryptedTextField
from bookwell.tenancy.models import Clinic, ClinicKey

Progress = Callable[[int, int], None]

# Every model with encrypted fields and a key_version column.
SEALED_MODELS: list[type[models.Model]] = [Client, Appointment, WebhookEndpoint, PaymentSettings]


def _encrypted_fields(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def _pending(model: type[models.Model], target: int) -> models.QuerySet:
    return model._default_manager.filter(key_version__lt=target)


def _start(clinic: Clinic) -> int:
    with transaction.atomic():
        versions = list(
            ClinicKey.objects.select_for_update()
            .order_by("-version")
            .values_list("version", flat=True)
        )
        retired_all = (
            not ClinicKey.objects.filter(version=versions[0], retired_at__isnull=True).exists()
            if versions
            else True
        )
        if len(versions) <= 1 or retired_all:
            target = keyring.create_version(clinic.pk).version  # a fresh rotation
        else:
            target = versions[0]  # resuming: the newest version is the rotation's target
        keyring.retire_versions_below(clinic.pk, target)
    return target


def _reseal_batches(
    clinic: Clinic,
    target: int,
    batch_size: int,
    progress: Progress | None,
    stop_after: int | None,
    done: int,
) -> tuple[int, bool]:
    total = done + sum(_pending(m, target).count() for m in SEALED_MODELS)
    for model in SEALED_MODELS:
        fields = _encrypted_fields(model)
        while True:
            with transaction.atomic(), keyring.pinned_active_key(clinic.pk) as key:
                batch = list(
                    _pending(model, target).select_for_update().order_by("pk")[:batch_size]
                )
                if not batch:
                    break
                for row in batch:
                    for name in fields:
                        setattr(row, name, getattr(row, name))  # open, then seal anew
                    row.key_version = target
                    row.save(update_fields=[*fields, "key_version"])
                if model is Client:
                    ClientIndex.objects.filter(client__in=batch).delete()
                    index_insert([r for c in batch for r in _index_rows(c, clinic, key)])
            done += len(batch)
            if progress:
                progress(done, total)
            if stop_after is not None and done >= stop_after:
                return done, False
    return done, True


def _finish(clinic: Clinic, target: int) -> bool:
    """Destroys the old versions if nothing is left under them; False if something is."""
    with transaction.atomic():
        list(ClinicKey.objects.select_for_update().filter(version__lt=target).values_list("pk"))
        if any(_pending(m, target).exists() for m in SEALED_MODELS):
            return False
        keyring.destroy_versions_below(clinic.pk, target)
    return True


def rotate_clinic_key(
    *,
    clinic: Clinic,
    batch_size: int = 500,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> int:
    """Returns the number of rows re-sealed in this run. `stop_after` simulates a crash."""
    done = 0
    with clinic_context(clinic):
        target = _start(clinic)
        while True:
            done, complete = _reseal_batches(clinic, target, batch_size, progress, stop_after, done)
            if not complete:
                return done
            if _finish(clinic, target):
                return done
