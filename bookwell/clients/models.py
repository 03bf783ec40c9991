"""Clients: the personal data Bookwell holds, every personal field encrypted (P4, P14)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bookwell.core.models import TenantModel
from bookwell.tenancy.fields import EncryptedTextField


class ImmutableRecord(Exception):
    pass


def _refuse_edits(record: models.Model) -> None:
    # Invariant guard (P18, P22): published notices and consent records are written once.
    if not record._state.adding:
        raise ImmutableRecord(f"{type(record).__name__} rows are never edited")


class NameKind(models.TextChoices):
    FULL = "full", _("Full name")
    INITIALS = "initials", _("Initials")
    PSEUDONYM = "pseudonym", _("Pseudonym")


class Client(TenantModel):
    """A person who books with the clinic. No structured medical fields, by design (P4)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    full_name = EncryptedTextField()
    name_kind = models.CharField(max_length=10, choices=NameKind.choices, default=NameKind.FULL)
    email = EncryptedTextField(blank=True, default="")
    phone = EncryptedTextField(blank=True, default="")  # E.164
    date_of_birth = EncryptedTextField(blank=True, default="")  # ISO date, if the clinic asks
    preferred_language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    note = EncryptedTextField(blank=True, default="")  # short, optional; not a medical record
    marketing_consent = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)  # no SMS, even where the clinic sends them
    restricted = models.BooleanField(default=False)  # P17: processing restricted
    # The oldest data key version any of this row's fields is sealed under (key rotation).
    key_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["clinic", "created_at"], name="client_by_created"),
            models.Index(fields=["clinic", "key_version"], name="client_by_key_version"),
            # The API's pages and incremental sync (updated_since): by change, then id.
            models.Index(fields=["clinic", "updated_at", "id"], name="client_by_change"),
        ]

    def __str__(self) -> str:
        return f"client {self.pk}"


class IndexKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    NAME = "name", _("Name prefix")


class ClientIndex(TenantModel):
    """Blind index entries: keyed hashes of normalised values, never the values (P14)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="index_entries")
    kind = models.CharField(max_length=8, choices=IndexKind.choices)
    digest = models.CharField(max_length=64)
    key_version = models.PositiveIntegerField()
    # Set (= digest) only on email entries of clinics that require unique emails, so the
    # database refuses a duplicate even when two requests race.
    unique_digest = models.CharField(max_length=64, null=True, blank=True)

    class Meta(TenantModel.Meta):
        # id last: search pages come straight off the index, newest entries first.
        indexes = [
            models.Index(fields=["clinic", "kind", "digest", "id"], name="client_index_lookup")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "unique_digest"], name="client_unique_email_digest"
            )
        ]

    def __str__(self) -> str:
        return f"client index {self.pk}"


class PrivacyNotice(TenantModel):
    """A version of the clinic's privacy notice (P22). Published versions are never edited."""

    version = models.PositiveIntegerField()
    body = models.TextField(max_length=50_000)
    effective_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "version"], name="privacy_notice_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"privacy notice v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_edits(self)
        super().save(*args, **kwargs)


class ConsentMethod(models.TextChoices):
    ONLINE = "online", _("Online booking")
    STAFF = "staff", _("Recorded by staff")
    IMPORT = "import", _("Imported")
    API = "api", _("Recorded through the API")


class ConsentRecord(TenantModel):
    """That a client agreed to a notice version, when and how (P18). Never edited."""

    client = models.ForeignKey(
        Client, null=True, on_delete=models.SET_NULL, related_name="consents"
    )
    notice = models.ForeignKey(PrivacyNotice, on_delete=models.PROTECT, related_name="consents")
    given_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"consent {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_edits(self)
        super().save(*args, **kwargs)
