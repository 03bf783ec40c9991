"""API tokens: a clinic's integrations sign in with these (issue: REST API v1).

The secret is shown once when the token is made; only its SHA-256 is stored, with a short
visible prefix so people can tell their tokens apart. A 256-bit random secret needs no slow
hash: nothing can be guessed from the digest.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from bookwell.core.models import TenantModel


class ApiToken(TenantModel):
    name = models.CharField(max_length=80)
    # The token's first characters after "bw_", shown in lists; unique, so lookups use it.
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)  # SHA-256 of the whole token, hex
    scopes = models.JSONField(default=list)  # Scope values
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_on = models.DateField(null=True, blank=True)  # a date: one write a day at most
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["clinic", "created_at"], name="apitoken_by_clinic")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="apitoken_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        return f"api token {self.prefix}"
