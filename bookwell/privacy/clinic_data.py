"""The clinic's own data: its complete export (P15) and its deletion (P16).

An export is built by the worker into a file sealed under the clinic's data key (so a copy of
the disk is no copy of the data, and destroying the key at deletion makes old archives
unreadable too); the owner downloads it until the link expires, then the file goes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import audit
from bookwell.core import crypto
from bookwell.core.access import access_in_clinic
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import Conflict, Gone
from bookwell.privacy import archive
from bookwell.privacy.models import ClinicExport, ExportStatus
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic

logger = logging.getLogger("bookwell.privacy")

# A build whose worker has not reported for this long died; the export is marked failed.
EXPORT_LOST_AFTER = dt.timedelta(minutes=10)
_IN_MAKING = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def export_path(export: ClinicExport) -> Path:
    return Path(settings.EXPORT_DIR) / str(export.clinic_id) / f"{export.pk}.bws"


def _stream_key(key: keyring.DataKey) -> bytes:
    return crypto.derive_key(key.field_key, "bookwell clinic export v1")


def _context(export: ClinicExport) -> bytes:
    return f"bookwell:clinic-export:{export.clinic_id}:{export.pk}".encode()


def clinic_export_request(*, clinic: Clinic, actor: User | None) -> ClinicExport:
    """Queues a new archive of everything the clinic holds. Refused while one is in making
    (one that a dead worker left is marked failed first)."""
    from bookwell.privacy.tasks import build_clinic_export

    now = timezone.now()
    with transaction.atomic():
        ClinicExport.objects.filter(
            status=ExportStatus.RUNNING, heartbeat_at__lt=now - EXPORT_LOST_AFTER
        ).update(status=ExportStatus.FAILED, finished_at=now, error_code="WorkerLost")
        try:
            with transaction.atomic():
                export = ClinicExport.objects.create(clinic=clinic, requested_by=actor)
        except IntegrityError:
            raise Conflict(
                _("An export is being made already. It will be ready in a few minutes."),
                code="export_in_progress",
            ) from None
        audit(
            Action.CLINIC_EXPORT_REQUESTED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLINIC,
            target_id=clinic.pk,
        )
        export_id = str(export.pk)
        transaction.on_commit(lambda: build_clinic_export.enqueue(export_id))
    return export


def clinic_export_build(export_id: str, *, now: dt.datetime | None = None) -> str:
    """The worker's part: writes the archive, reporting progress as it goes. Returns
    "ready", "failed", or "taken" (another worker has it, or it is no longer queued)."""
    with platform_scope("worker finds an export's clinic"):
        clinic_id = (
            ClinicExport.objects.filter(pk=export_id).values_list("clinic_id", flat=True).first()
        )
        clinic = Clinic.objects.filter(pk=clinic_id).first() if clinic_id else None
    if clinic is None:
        return "taken"
    with clinic_context(clinic):
        started = now or timezone.now()
        claimed = ClinicExport.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.RUNNING, started_at=started, heartbeat_at=started
        )
        if not claimed:
            return "taken"
        export = ClinicExport.objects.get(pk=export_id)
        rows = ClinicExport.objects.filter(pk=export_id)
        total = 2 * archive.row_count(clinic)  # each row goes in twice: JSON and CSV
        rows.update(rows_total=total)
        key = keyring.active_key(clinic.pk)
        path = export_path(export)
        part = path.with_suffix(".part")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                sink = crypto.SealingWriter(_stream_key(key), f, _context(export))
                archive.write_archive(
                    clinic,
                    sink,  # type: ignore[arg-type]
                    progress=lambda done: rows.update(
                        rows_done=min(done, total), heartbeat_at=timezone.now()
                    ),
                    now=started,
                )
                sink.close()
            os.replace(part, path)
        except Exception as exc:
            part.unlink(missing_ok=True)
            # The error's class only: a message could quote the data.
            logger.warning(
                "clinic export failed", extra={"export": export_id, "error": type(exc).__name__}
            )
            rows.update(
                status=ExportStatus.FAILED,
                finished_at=timezone.now(),
                error_code=type(exc).__name__[:40],
            )
            return "failed"
        finished = timezone.now()
        rows.update(
            status=ExportStatus.READY,
            rows_done=total,
            finished_at=finished,
            heartbeat_at=finished,
            expires_at=finished + dt.timedelta(hours=settings.EXPORT_LINK_HOURS),
            size_bytes=path.stat().st_size,
            key_uid=key.uid,
        )
    return "ready"


def clinic_export_open(
    *, clinic: Clinic, export_id: object, now: dt.datetime | None = None
) -> tuple[ClinicExport, Iterator[bytes]]:
    """The archive's bytes for the owner to download (counted and audited); another
    clinic's export is a 404, one not ready or past its link's expiry is Gone."""
    now = now or timezone.now()
    export = access_in_clinic(ClinicExport, export_id)
    path = export_path(export)
    if (
        export.status != ExportStatus.READY
        or export.expires_at is None
        or export.expires_at <= now
        or not path.exists()
    ):
        raise Gone(_("This download link has expired. Make a new export."), code="export_expired")
    try:
        key = keyring.key_by_uid(clinic.pk, export.key_uid)
    except keyring.KeyringError:  # the key was destroyed since (a rotation finished)
        raise Gone(
            _("This download link has expired. Make a new export."), code="export_expired"
        ) from None
    source = path.open("rb")
    with transaction.atomic():
        ClinicExport.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
        audit(
            Action.CLINIC_EXPORT_DOWNLOADED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLINIC,
            target_id=clinic.pk,
        )
    return export, _plaintext(_stream_key(key), source, _context(export))


def _plaintext(key: bytes, source: BinaryIO, context: bytes) -> Iterator[bytes]:
    with source:
        yield from crypto.open_stream(key, source, context)


def clinic_exports_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes the files of exports whose link has expired (and of failed builds); returns
    how many exports expired."""
    now = now or timezone.now()
    with platform_scope("exports: delete the archives whose link expired, every clinic"):
        expired = list(ClinicExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now))
        for export in expired:
            export_path(export).unlink(missing_ok=True)
        ClinicExport.objects.filter(pk__in=[e.pk for e in expired]).update(
            status=ExportStatus.EXPIRED
        )
        for export in ClinicExport.objects.filter(status=ExportStatus.FAILED):
            export_path(export).with_suffix(".part").unlink(missing_ok=True)
    return len(expired)


def exports_recent(clinic: Clinic) -> list[ClinicExport]:
    return list(ClinicExport.objects.filter(clinic=clinic).order_by("-created_at")[:5])


def export_in_making(exports: list[ClinicExport]) -> bool:
    return any(e.status in _IN_MAKING for e in exports)
