"""Re-encrypting a clinic under a new data key, in resumable batches (P14).

1. A new data key version becomes active (new writes use it at once); older versions are
   retired but still open what they sealed.
2. Clients still sealed under an older version are re-sealed and re-indexed, a batch per
   transaction, oldest first. An interruption loses at most the batch in flight; a rerun
   continues with the rows still below the active version.
3. When none is left, the old versions are destroyed: nothing opens under them any more.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from bookwell.clients.models import Client, ClientIndex
from bookwell.clients.services import _index_rows, index_insert
from bookwell.core.context import clinic_context
from bookwell.tenancy import keyring
from bookwell.tenancy.fields import EncryptedTextField
from bookwell.tenancy.models import Clinic, ClinicKey

Progress = Callable[[int, int], None]


def _encrypted_fields(model: type[Client]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def rotate_clinic_key(
    *,
    clinic: Clinic,
    batch_size: int = 500,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> int:
    """Returns the number of clients re-sealed in this run. `stop_after` simulates a crash."""
    fields = _encrypted_fields(Client)
    done = 0
    with clinic_context(clinic):
        versions = list(ClinicKey.objects.order_by("-version").values_list("version", flat=True))
        if len(versions) <= 1:
            keyring.create_version(clinic.pk)  # a fresh rotation; otherwise resume
        target = keyring.active_version(clinic.pk)
        keyring.retire_versions_below(clinic.pk, target)
        total = Client.objects.filter(key_version__lt=target).count()
        while True:
            with transaction.atomic(), keyring.pinned_active_key(clinic.pk) as key:
                batch = list(
                    Client.objects.select_for_update()
                    .filter(key_version__lt=target)
                    .order_by("pk")[:batch_size]
                )
                if not batch:
                    break
                for client in batch:
                    for name in fields:
                        setattr(client, name, getattr(client, name))  # open, then seal anew
                    client.key_version = target
                    client.save(update_fields=[*fields, "key_version", "updated_at"])
                ClientIndex.objects.filter(client__in=batch).delete()
                index_insert([row for client in batch for row in _index_rows(client, clinic, key)])
            done += len(batch)
            if progress:
                progress(done, total)
            if stop_after is not None and done >= stop_after:
                return done
        keyring.destroy_versions_below(clinic.pk, target)
    return done
