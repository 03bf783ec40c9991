from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from bookwell.core.validators import validate_single_line


def new_session_salt() -> str:
    return secrets.token_hex(16)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an email is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A staff member's sign-in. Signs in by email, unique without regard to case."""

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=120, validators=[validate_single_line])
    is_active = models.BooleanField(default=True)
    # The people who run this Bookwell installation: they see platform pages (failed
    # background work), never a clinic's data. Granted with `bookwell operator <email>`.
    is_operator = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Part of the session hash: changing it signs the user out of every session.
    session_salt = models.CharField(max_length=32, default=new_session_salt)
    # TOTP second factor (P3). The secret is only set once enrolment is confirmed.
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_enabled_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is accepted once, and never an older one.
    totp_last_step = models.BigIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"user {self.pk}"

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def get_session_auth_hash(self) -> str:
        return salted_hmac(
            "bookwell.accounts.session",
            f"{self.password}:{self.session_salt}",
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_fallback_hash(self) -> Any:
        # Django also accepts hashes under SECRET_KEY_FALLBACKS; keep the salt in those too.
        from django.conf import settings

        for fallback in settings.SECRET_KEY_FALLBACKS:
            yield salted_hmac(
                "bookwell.accounts.session",
                f"{self.password}:{self.session_salt}",
                secret=fallback,
                algorithm="sha256",
            ).hexdigest()


class RecoveryCode(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"], name="recovery_code_lookup")]

    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class SignInOutcome(models.TextChoices):
    SUCCESS = "success", _("Signed in")
    FAILURE = "failure", _("Wrong password")
    MFA_FAILURE = "mfa_failure", _("Wrong second-factor code")
    LOCKED = "locked", _("Refused while locked")
    RESET = "reset", _("Password reset")


class SignInAttempt(models.Model):
    """One sign-in attempt, for throttling (P3).

    Holds no address and no email: the account is a keyed hash of the normalised email, the
    network a masked prefix (IPv4 /24, IPv6 /48), so it can be kept without exposing anyone.
    """

    account_key = models.CharField(max_length=64)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE)
    network = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=SignInOutcome.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["account_key", "at"], name="signin_by_account"),
            models.Index(fields=["network", "at"], name="signin_by_network"),
        ]

    def __str__(self) -> str:
        return f"sign-in attempt {self.pk}"
