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
