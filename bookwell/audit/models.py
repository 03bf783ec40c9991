"""Audit events: who did what, when and from where, in a form that needs no personal data
(P5, P6, P7). Ids and enums only: no names, addresses, message bodies or free text.

Each clinic's events (and the platform's, clinic empty) form a hash chain: every event
carries an HMAC over the previous event's hash and its own canonical form, so a changed,
removed or reordered row shows (`bookwell audit verify`). The database refuses UPDATE and
DELETE on the table (triggers, migration 0001) unless the retention job has put a permit in
place inside its own transaction.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    SIGNIN_SUCCEEDED = "signin.succeeded", _("Signed in")
    SIGNIN_FAILED = "signin.failed", _("Sign-in failed")
    SIGNIN_LOCKED = "signin.locked", _("Sign-in refused (locked)")
    SIGNIN_NEW_CONTEXT = "signin.new_context", _("Sign-in from a new device or country")
    SIGNOUT = "signout", _("Signed out")
    SIGNOUT_EVERYWHERE = "signout.everywhere", _("Signed out everywhere")
    MFA_FAILED = "mfa.failed", _("Second factor failed")
    PASSWORD_RESET = "password.reset", _("Password reset")
    PASSWORD_CHANGED = "password.changed", _("Password changed")
    PERMISSION_DENIED = "permission.denied", _("Permission denied")
    MFA_ENABLED = "mfa.enabled", _("Authenticator app turned on")
    MFA_DISABLED = "mfa.disabled", _("Authenticator app turned off")
    RECOVERY_CODES_NEW = "mfa.recovery_codes", _("New recovery codes")
    INVITATION_SENT = "invitation.sent", _("Invitation sent")
    INVITATION_REVOKED = "invitation.revoked", _("Invitation withdrawn")
    INVITATION_ACCEPTED = "invitation.accepted", _("Invitation accepted")
    ROLE_CHANGED = "member.role_changed", _("Role changed")
    MEMBER_REMOVED = "member.removed", _("Member removed")
    SETTINGS_CHANGED = "clinic.settings_changed", _("Clinic settings changed")
    PLAN_CHANGED = "clinic.plan_changed", _("Plan changed by the operator")
    CATALOG_CHANGED = "catalog.changed", _("Services, staff, locations or rooms changed")
    SCHEDULE_CHANGED = "schedule.changed", _("Hours, time off or closures changed")
    CLIENT_VIEWED = "client.viewed", _("Client record opened")
    CLIENT_CREATED = "client.created", _("Client record created")
    CLIENT_UPDATED = "client.updated", _("Client record changed")
    CLIENTS_EXPORTED = "clients.exported", _("Client records exported")
    CLIENTS_IMPORTED = "clients.imported", _("Client records imported")
    CLIENTS_LISTED = "clients.listed", _("Client records read in a list")
    CLIENT_COPY_DOWNLOADED = "client.copy_downloaded", _("Copy of a client's data downloaded")
    CLIENT_ERASED = "client.erased", _("Client's data erased")
    CLIENT_RESTRICTED = "client.restricted", _("Client's record restricted")
    CLIENT_RESTRICTION_LIFTED = "client.restriction_lifted", _("Client's restriction lifted")
    PRIVACY_REQUEST_RECORDED = "privacy.request_recorded", _("Privacy request recorded")
    PRIVACY_REQUEST_CLOSED = "privacy.request_closed", _("Privacy request closed")
    CLINIC_EXPORT_REQUESTED = "clinic.export_requested", _("Clinic export asked for")
    CLINIC_EXPORT_DOWNLOADED = "clinic.export_downloaded", _("Clinic export downloaded")
    CLINIC_DELETION_REQUESTED = "clinic.deletion_requested", _("Deletion of the clinic asked for")
    CLINIC_DELETION_CANCELLED = "clinic.deletion_cancelled", _("Deletion of the clinic cancelled")
    CLINIC_PURGED = "clinic.purged", _("Clinic and its data deleted")
    PAYMENT_RECORDED = "payment.recorded", _("Payment taken in person recorded")
    PAYMENT_REFUNDED = "payment.refunded", _("Refund made")
    PAYMENTS_EXPORTED = "payments.exported", _("Payments list exported")
    API_TOKEN_CREATED = "api_token.created", _("API token created")
    API_TOKEN_REVOKED = "api_token.revoked", _("API token revoked")
    API_TOKEN_REFUSED = "api_token.refused", _("API token refused")
    TEMPLATE_CHANGED = "template.changed", _("Message text changed")
    INTEGRATION_CHANGED = "integration.changed", _("Webhook or calendar link changed")


class ActorKind(models.TextChoices):
    USER = "user", _("User")
    API_TOKEN = "api_token", _("API token")
    SYSTEM = "system", _("System")
    ANONYMOUS = "anonymous", _("Not signed in")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    DENIED = "denied", _("Denied")
    FAILURE = "failure", _("Failure")


class TargetKind(models.TextChoices):
    NONE = "", _("None")
    USER = "user", _("User")
    API_TOKEN = "api_token", _("API token")
    CLINIC = "clinic", _("Clinic")
    INVITATION = "invitation", _("Invitation")
    SERVICE = "service", _("Service")
    STAFF = "staff", _("Staff member")
    LOCATION = "location", _("Location")
    ROOM = "room", _("Room")
    CLIENT = "client", _("Client")
    PAYMENT = "payment", _("Payment")


class Device(models.TextChoices):
    DESKTOP = "desktop", _("Desktop")
    MOBILE = "mobile", _("Mobile")
    TABLET = "tablet", _("Tablet")
    BOT = "bot", _("Bot")
    OTHER = "other", _("Other")


class AuditEvent(models.Model):
    """One recorded action. `clinic_id` is empty for platform events (sign-in)."""

    # The chain: 0 for the platform, else the clinic id; seq counts up from 1 within it.
    chain = models.BigIntegerField()
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    action = models.CharField(max_length=40, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=40, blank=True)  # an internal id, never a name
    clinic_id = models.BigIntegerField(null=True, blank=True)
    target_kind = models.CharField(max_length=20, choices=TargetKind.choices, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    ip_network = models.CharField(max_length=43, blank=True)  # IPv4 /24, IPv6 /48
    ip_hash = models.CharField(max_length=64, blank=True)  # HMAC under the day's key
    device = models.CharField(max_length=10, choices=Device.choices, default=Device.OTHER)
    browser = models.CharField(max_length=40, blank=True)  # a family, e.g. "Firefox"
    os = models.CharField(max_length=40, blank=True)  # a family, e.g. "Android"
    country = models.CharField(max_length=7, default="unknown")  # ISO 3166 alpha-2
    request_id = models.CharField(max_length=32, blank=True)
    extra = models.JSONField(default=dict, blank=True)  # allow-listed ids and enums only
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq")]
        indexes = [
            models.Index(fields=["clinic_id", "at"], name="audit_clinic_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"audit {self.chain}:{self.seq} {self.action}"


class ChainHead(models.Model):
    """The last event of each chain: locked while an event is appended, so concurrent
    writers line up and the chain never forks."""

    chain = models.BigIntegerField(primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")
    # Where the kept part of the chain starts (the retention job moves it on).
    first_seq = models.PositiveBigIntegerField(default=1)
    first_prev = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit chain {self.chain}"


class SecuritySighting(models.Model):
    """The one place a full address is kept: who signed in (or tried) from where, for a
    short window (settings.AUDIT_RAW_IP_DAYS, 7 by default), then purged daily (P6)."""

    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip = models.GenericIPAddressField()
    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices)

    def __str__(self) -> str:
        return f"security sighting {self.pk}"


class IpHashKey(models.Model):
    """The day's key for hashing addresses. Keys older than the window are destroyed, after
    which the day's hashes can neither be reversed nor linked to any other day (P6)."""

    day = models.DateField(unique=True)
    key = models.BinaryField()

    def __str__(self) -> str:
        return f"ip hash key {self.day}"


class PurgePermit(models.Model):
    """Present only inside the retention job's transaction: the triggers let DELETE through
    while a row exists here."""

    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "audit purge permit"
