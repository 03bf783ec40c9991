"""The clinic's own data: its complete export (P15) and its deletion (P16).

An export is built by the worker into a file sealed under the clinic's data key (so a copy of
the disk is no copy of the data, and destroying the key at deletion makes old archives
unreadable too); the owner downloads it until the link expires, then the file goes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.audit.models import Action, ActorKind, AuditEvent, TargetKind
from bookwell.audit.services import Actor, audit, audit_chain_delete, audit_record
from bookwell.core import crypto
from bookwell.core.access import access_in_clinic
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import Conflict, Gone, ServiceError
from bookwell.core.mail import send_now_or_log
from bookwell.core.ratelimit import hit
from bookwell.privacy import archive
from bookwell.privacy.models import ClinicExport, ExportStatus
from bookwell.tenancy import keyring, keystore
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Role

logger = logging.getLogger("bookwell.privacy")

# A build whose worker has not reported for this long died; the export is marked failed.
EXPORT_LOST_AFTER = dt.timedelta(minutes=10)
# An export no worker picked up in this long (its task was lost, the workers are down) is
# given up, so that it does not block the next one.
EXPORT_QUEUED_GIVE_UP = dt.timedelta(hours=1)
# Owners get this many tries at the password (and code) to delete the clinic per quarter hour.
DELETION_TRIES = 5
_IN_MAKING = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class FieldError(ServiceError):
    """A refusal that belongs to one field of the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, code=f"bad_{field}")
        self.field = field


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
        _give_up_stuck(now)
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


def _give_up_stuck(now: dt.datetime) -> int:
    """Marks failed the exports whose worker died, or that no worker picked up."""
    lost = ClinicExport.objects.filter(
        status=ExportStatus.RUNNING, heartbeat_at__lt=now - EXPORT_LOST_AFTER
    ).update(status=ExportStatus.FAILED, finished_at=now, error_code="WorkerLost")
    never = ClinicExport.objects.filter(
        status=ExportStatus.QUEUED, created_at__lt=now - EXPORT_QUEUED_GIVE_UP
    ).update(status=ExportStatus.FAILED, finished_at=now, error_code="NeverStarted")
    return lost + never


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
        # Only if it is still this worker's: one given up meanwhile stays failed.
        done = rows.filter(status=ExportStatus.RUNNING).update(
            status=ExportStatus.READY,
            rows_done=total,
            finished_at=finished,
            heartbeat_at=finished,
            expires_at=finished + dt.timedelta(hours=settings.EXPORT_LINK_HOURS),
            size_bytes=path.stat().st_size,
            key_uid=key.uid,
        )
        if not done:
            path.unlink(missing_ok=True)
            return "failed"
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
    with transaction.atomic():
        ClinicExport.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
        audit(
            Action.CLINIC_EXPORT_DOWNLOADED,
            clinic_id=clinic.pk,
            target_kind=TargetKind.CLINIC,
            target_id=clinic.pk,
        )
    return export, _plaintext(_stream_key(key), path, _context(export))


def _plaintext(key: bytes, path: Path, context: bytes) -> Iterator[bytes]:
    with path.open("rb") as source:
        yield from crypto.open_stream(key, source, context)


def clinic_exports_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes the files of exports whose link has expired (and of failed builds), and gives
    up stuck ones; returns how many exports expired."""
    now = now or timezone.now()
    with platform_scope("exports: delete the archives whose link expired, every clinic"):
        _give_up_stuck(now)
        expired = list(ClinicExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now))
        for export in expired:
            export_path(export).unlink(missing_ok=True)
        ClinicExport.objects.filter(pk__in=[e.pk for e in expired]).update(
            status=ExportStatus.EXPIRED
        )
        for export in ClinicExport.objects.filter(status=ExportStatus.FAILED):
            export_path(export).with_suffix(".part").unlink(missing_ok=True)
    return len(expired)


def exports_withdraw(clinic: Clinic) -> None:
    """Expires the clinic's ready exports now (inside the caller's transaction; the files go
    when it commits): a client's erasure must not live on in an archive made before."""
    # One being built now could still hold the client: it fails (its build then discards
    # the file, as it does for any export given up while it ran).
    ClinicExport.objects.filter(
        clinic=clinic, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.FAILED, finished_at=timezone.now(), error_code="Withdrawn")
    ready = list(ClinicExport.objects.filter(clinic=clinic, status=ExportStatus.READY))
    if not ready:
        return
    ClinicExport.objects.filter(pk__in=[e.pk for e in ready]).update(status=ExportStatus.EXPIRED)
    paths = [export_path(e) for e in ready]

    def delete_files() -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    transaction.on_commit(delete_files)


def exports_recent(clinic: Clinic) -> list[ClinicExport]:
    return list(ClinicExport.objects.filter(clinic=clinic).order_by("-created_at")[:5])


def export_in_making(exports: list[ClinicExport]) -> bool:
    return any(e.status in _IN_MAKING for e in exports)


# --- Deletion (P16) ----------------------------------------------------------------------------

REMINDERS_BEFORE = (dt.timedelta(days=7), dt.timedelta(days=1))


def _owner_emails(clinic: Clinic) -> list[str]:
    with clinic_context(clinic):
        return sorted(
            Membership.objects.filter(role=Role.OWNER).values_list("user__email", flat=True)
        )


def _tell_owners(clinic: Clinic, kind: str, compose: Callable[[], tuple[str, str]]) -> None:
    """Emails every owner (in the clinic's language) what `compose` writes."""
    with translation.override(clinic.locale):
        subject, body = compose()
    for email in _owner_emails(clinic):
        send_now_or_log(kind=kind, subject=subject, body=body, to=email)


def clinic_deletion_request(
    *,
    clinic: Clinic,
    actor: User,
    password: str,
    typed_name: str,
    code: str = "",
    now: dt.datetime | None = None,
) -> Clinic:
    """The owner asks for the clinic to be deleted: signed in again (password, and the
    authenticator code where they use one) and the clinic's name typed. It is purged after the
    grace period unless cancelled. Raises FieldError naming the field that is wrong."""
    from bookwell.accounts.services import mfa_verify

    if hit(
        "clinic-deletion", str(actor.pk), limit=DELETION_TRIES, window_s=15 * 60,
        fail_closed=True,  # (it guards a password and a code)
    ):  # fmt: skip
        raise FieldError("password", _("Too many tries. Wait a quarter of an hour and try again."))
    if not actor.check_password(password):
        raise FieldError("password", _("Your password was not correct."))
    if actor.mfa_enabled and not mfa_verify(user=actor, code=code):
        raise FieldError("code", _("That code does not match your authenticator app."))
    if typed_name.strip() != clinic.name:
        raise FieldError("name", _("Type the clinic's name exactly as it is shown."))
    now = now or timezone.now()
    with transaction.atomic():
        locked = Clinic.objects.select_for_update().get(pk=clinic.pk)
        if locked.deletion_due_at is not None:
            raise Conflict(
                _("Deletion is already scheduled for %(date)s.")
                % {"date": date_format(timezone.localtime(locked.deletion_due_at), "DATE_FORMAT")},
                code="deletion_pending",
            )
        _set_deletion(
            locked,
            due=now + dt.timedelta(days=settings.DELETION_GRACE_DAYS),
            actor=actor,
            action=Action.CLINIC_DELETION_REQUESTED,
            compose=lambda: (
                _("%(clinic)s will be deleted on %(date)s")
                % {"clinic": locked.name, "date": _due(locked)},
                _deletion_notice(locked),
            ),
        )
    return locked


def _set_deletion(
    locked: Clinic,
    *,
    due: dt.datetime | None,
    actor: User | None,
    action: str,
    compose: Callable[[], tuple[str, str]],
) -> None:
    """Schedules (or, with no `due`, cancels) the locked clinic's deletion: audited, and the
    owners told once it has committed."""
    locked.deletion_due_at = due
    locked.deletion_requested_by = actor if due else None
    locked.deletion_reminders = 0
    locked.save(update_fields=["deletion_due_at", "deletion_requested_by", "deletion_reminders"])
    audit(action, clinic_id=locked.pk, target_kind=TargetKind.CLINIC, target_id=locked.pk)
    kind = "clinic_deletion_requested" if due else "clinic_deletion_cancelled"
    transaction.on_commit(lambda: _tell_owners(locked, kind, compose))


def _due(clinic: Clinic) -> str:
    assert clinic.deletion_due_at is not None
    local = timezone.localtime(clinic.deletion_due_at, ZoneInfo(clinic.time_zone))
    return date_format(local, "DATETIME_FORMAT")


def _deletion_notice(clinic: Clinic) -> str:
    return _(
        "An owner asked for %(clinic)s to be deleted from Bookwell. On %(date)s every record "
        "of the clinic will be deleted: team memberships, services, schedules, clients, "
        "appointments, messages and audit log, and the clinic's encryption keys will be "
        "destroyed, so no backup can be read either. Staff sign-in accounts stay, for other "
        "clinics; each person can delete their own. This cannot be undone.\n\n"
        "To keep the clinic, cancel the deletion before then on the clinic's Privacy page:\n"
        "%(url)s\n\n"
        "To keep a copy of your data, make an export on the same page first."
    ) % {"clinic": clinic.name, "date": _due(clinic), "url": _center_url(clinic)}


def _center_url(clinic: Clinic) -> str:
    return settings.BASE_URL + reverse("privacy:center", kwargs={"clinic_slug": clinic.slug})


def clinic_deletion_cancel(*, clinic: Clinic, actor: User | None) -> Clinic:
    with transaction.atomic():
        locked = Clinic.objects.select_for_update().get(pk=clinic.pk)
        if locked.deletion_due_at is None:
            raise Conflict(_("No deletion is scheduled."), code="no_deletion_pending")
        _set_deletion(
            locked,
            due=None,
            actor=actor,
            action=Action.CLINIC_DELETION_CANCELLED,
            compose=lambda: (
                _("%(clinic)s will not be deleted") % {"clinic": locked.name},
                _("The deletion of %(clinic)s was cancelled. Everything stays as it was.")
                % {"clinic": locked.name},
            ),
        )
    return locked


def clinic_deletions_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: reminds owners a week and a day before, and purges the clinics
    whose grace period is over."""
    now = now or timezone.now()
    done = {"reminded": 0, "purged": 0}
    with platform_scope("clinic deletions: which are due or need a reminder"):
        pending = list(Clinic.objects.filter(deletion_due_at__isnull=False).order_by("pk"))
    for clinic in pending:
        assert clinic.deletion_due_at is not None
        if clinic.deletion_due_at <= now:
            if clinic_purge(clinic_id=clinic.pk, now=now):
                done["purged"] += 1
            continue
        step = clinic.deletion_reminders
        if step < len(REMINDERS_BEFORE) and clinic.deletion_due_at - now <= REMINDERS_BEFORE[step]:
            # Counted first: a reminder may be lost to a mail outage, never sent twice.
            with platform_scope("clinic deletions: a reminder sent"):
                counted = Clinic.objects.filter(
                    pk=clinic.pk, deletion_reminders=step, deletion_due_at=clinic.deletion_due_at
                ).update(deletion_reminders=step + 1)
            if counted:
                _tell_owners(
                    clinic,
                    "clinic_deletion_reminder",
                    lambda c=clinic: (  # type: ignore[misc]
                        _("Reminder: %(clinic)s will be deleted on %(date)s")
                        % {"clinic": c.name, "date": _due(c)},
                        _deletion_notice(c),
                    ),
                )
                done["reminded"] += 1
    # Secrets of purged clinics that are still there (a purge committed, then its process
    # died before destroying them) go now. Only of clinics the audit log says were purged: a
    # clinic being created has its secret before its row commits.
    with platform_scope("clinic deletions: keystore secrets of purged clinics"):
        purged = {
            int(target)
            for target in AuditEvent.objects.filter(
                chain=0, action=Action.CLINIC_PURGED
            ).values_list("target_id", flat=True)
            if target.isdigit()
        }
        live = set(Clinic.objects.filter(pk__in=purged).values_list("pk", flat=True))
    for clinic_id in (keystore.clinic_ids() & purged) - live:
        keyring.destroy_clinic_keys(clinic_id)
    return done


def clinic_models() -> list[type[Model]]:
    """Every model with rows of a clinic (a `clinic` key to it), but the clinic itself."""
    return [
        model
        for model in apps.get_models()
        if any(
            f.name == "clinic" and f.is_relation and f.related_model is Clinic
            for f in model._meta.concrete_fields
        )
    ]


def clinic_purge(*, clinic_id: int, now: dt.datetime | None = None) -> int:
    """Deletes every row of the clinic, its audit log and, once that has committed, the
    secrets of its data keys and its export files. Leaves one platform audit event with ids
    only. Returns the rows deleted (0 if the clinic is gone or no longer due)."""
    now = now or timezone.now()
    with platform_scope("clinic purge: find the clinic"):
        clinic = Clinic.objects.filter(pk=clinic_id, deletion_due_at__lte=now).first()
    if clinic is None:
        return 0
    deleted = 0
    with transaction.atomic():
        with clinic_context(clinic):
            # Locked, and still due: a cancel that got in first wins.
            if (
                not Clinic.objects.select_for_update()
                .filter(pk=clinic_id, deletion_due_at__lte=now)
                .exists()
            ):
                return 0
            tables = []
            for model in clinic_models():
                # One DELETE per table (no rows loaded): foreign keys are checked at commit.
                rows = model._base_manager.filter(clinic_id=clinic_id)
                deleted += rows._raw_delete(rows.db)
                tables.append(model._meta.db_table)
        deleted += audit_chain_delete(chain=clinic_id)
        with platform_scope("clinic purge: the clinic's own row"):
            rows = Clinic.objects.filter(pk=clinic_id)
            deleted += rows._raw_delete(rows.db)
        # Every reference to what went must have gone with it: checked now, not at commit.
        connection.check_constraints(table_names=[*tables, Clinic._meta.db_table])
        audit_record(
            action=Action.CLINIC_PURGED,
            actor=Actor(ActorKind.SYSTEM),
            clinic_id=None,
            target_kind=TargetKind.CLINIC,
            target_id=clinic_id,
            extra={"rows": min(deleted, 10**9 - 1)},
        )
        transaction.on_commit(lambda: _after_purge(clinic_id))
    logger.info("clinic purged", extra={"clinic": clinic_id, "rows": deleted})
    return deleted


def _after_purge(clinic_id: int) -> None:
    keyring.destroy_clinic_keys(clinic_id)
    shutil.rmtree(Path(settings.EXPORT_DIR) / str(int(clinic_id)), ignore_errors=True)


# --- What the privacy center shows ---------------------------------------------------------------


def holdings(clinic: Clinic) -> list[tuple[str, int]]:
    """Each kind of record the platform holds for the clinic, with how many (the export's
    entities, so the two cannot disagree)."""
    return [
        (str(entity.model._meta.verbose_name_plural), entity.queryset(clinic).count())
        for entity in archive.ENTITIES
        if entity.model is not Clinic
    ]
