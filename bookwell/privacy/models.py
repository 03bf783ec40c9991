"""Data-subject requests (P17): what a client asked of the clinic, when it came in and when it
is due. The record holds kinds, dates and ids, never what the client wrote."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel, Tracked

DUE_DAYS = 30  # the answer is due a month after the request came in (GDPR Art. 12(3))


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access: a copy of their data")
    RECTIFICATION = "rectification", _("Rectification: correct their data")
    ERASURE = "erasure", _("Erasure: delete their data")
    RESTRICTION = "restriction", _("Restriction: stop using their data")
    PORTABILITY = "portability", _("Portability: their data, machine-readable")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class RequestSource(models.TextChoices):
    STAFF = "staff", _("Recorded by staff")
    CLIENT = "client", _("Sent by the client from their link")
    API = "api", _("Recorded through the API")


class SubjectRequest(Tracked, TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Kept after an erasure (the link is emptied): the clinic must be able to show that it
    # answered.
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    source = models.CharField(max_length=8, choices=RequestSource.choices)
    received_on = models.DateField()
    due_on = models.DateField()
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "status", "due_on"], name="subject_request_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("received_on")), name="subject_request_due_after"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(completed_at__isnull=False),
                name="subject_request_closed_when",
            ),
        ]

    def __str__(self) -> str:
        return f"subject request {self.pk}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Being built")
    READY = "ready", _("Ready to download")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ClinicExport(TenantModel):
    """One archive of everything the clinic holds (P15), built by the worker. The file is
    sealed under the clinic's data key (key_uid), so it is unreadable once the key goes (P16),
    and deleted when the link expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The worker's last word while building: one that stops answering has died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    key_uid = models.CharField(max_length=32, blank=True)
    downloads = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "-created_at"], name="clinic_export_recent")]
        constraints = [
            # One archive in the making per clinic at a time.
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(status__in=["queued", "running"]),
                name="clinic_export_one_at_a_time",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running"]) | Q(finished_at__isnull=False),
                name="clinic_export_finished_when",
            ),
        ]

    def __str__(self) -> str:
        return f"clinic export {self.pk}"

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.READY:
            return 100
        return min(99, self.rows_done * 100 // self.rows_total) if self.rows_total else 0
