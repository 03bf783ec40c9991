"""Writes for accounts: sign-in with throttling, second factor, sessions (P3)."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from bookwell.accounts.models import (
    RecoveryCode,
    SignInAttempt,
    SignInOutcome,
    User,
    new_session_salt,
)
from bookwell.audit.models import Action
from bookwell.core.metrics import SIGNIN_FAILURES

FAILURES = (SignInOutcome.FAILURE, SignInOutcome.MFA_FAILURE)
HOME = (SignInOutcome.SUCCESS, SignInOutcome.RESET)  # outcomes that make a network "home"
TOTP_STEP = 30
RECOVERY_CODE_COUNT = 10


def account_key(email: str) -> str:
    """A keyed hash of the normalised email: throttles unknown and known accounts alike."""
    return salted_hmac(
        "bookwell.accounts.signin", email.strip().lower(), algorithm="sha256"
    ).hexdigest()


@dataclass(frozen=True)
class Lockout:
    locked: bool
    retry_after: int = 0  # seconds


def _lockout_from(attempts: list[datetime], limit: int, now: datetime) -> Lockout:
    """Locked while `limit` failures lie inside the window; free when the oldest ages out."""
    if len(attempts) < limit:
        return Lockout(False)
    window = timedelta(seconds=settings.SIGNIN_WINDOW)
    # attempts is newest first; the lock ends when the limit-th newest leaves the window.
    release = attempts[limit - 1] + window
    return Lockout(True, max(1, int((release - now).total_seconds()) + 1))


def signin_lockout(*, email: str, network: str, now: datetime | None = None) -> Lockout:
    """Whether sign-in for this account from this network is refused right now.

    Limits, within SIGNIN_WINDOW:
    * per account and network: SIGNIN_MAX_FAILURES failures lock that pair only;
    * per network, over any accounts (spraying): SIGNIN_MAX_FAILURES_PER_NETWORK;
    * per account, over all networks: SIGNIN_MAX_FAILURES_PER_ACCOUNT.
    The last two do not apply where the account is at home: a network it signed in from, or
    completed a password reset from, in the last SIGNIN_TRUSTED_NETWORK_DAYS. So an attacker
    elsewhere cannot lock the user out of their usual networks.

    A success clears its own network's count (not the others: a user signing in elsewhere
    must not hand an attacker fresh guesses); a completed reset clears all the account's
    counts. Attempts refused while locked are recorded but not counted, so a lock always
    ends. And a completed password reset signs the user in, lock or no lock: proving control
    of the mailbox is always a way in (see accounts.views.password_reset_confirm).
    """
    now = now or timezone.now()
    key = account_key(email)
    since = now - timedelta(seconds=settings.SIGNIN_WINDOW)
    recent = SignInAttempt.objects.filter(account_key=key, at__gt=since).order_by("-at")
    reset = recent.filter(outcome=SignInOutcome.RESET).values_list("at", flat=True).first()
    account_since = max(since, reset) if reset else since
    cleared_here = (
        recent.filter(outcome__in=HOME, network=network).values_list("at", flat=True).first()
    )
    pair_since = max(account_since, cleared_here) if cleared_here else account_since
    failures = SignInAttempt.objects.filter(outcome__in=FAILURES).order_by("-at")

    pair = list(
        failures.filter(account_key=key, network=network, at__gt=pair_since).values_list(
            "at", flat=True
        )[: settings.SIGNIN_MAX_FAILURES]
    )
    verdict = _lockout_from(pair, settings.SIGNIN_MAX_FAILURES, now)
    if verdict.locked:
        return verdict

    at_home = SignInAttempt.objects.filter(
        account_key=key,
        network=network,
        outcome__in=HOME,
        at__gt=now - timedelta(days=settings.SIGNIN_TRUSTED_NETWORK_DAYS),
    ).exists()
    if at_home:
        return Lockout(False)

    per_network = list(
        failures.filter(network=network, at__gt=since).values_list("at", flat=True)[
            : settings.SIGNIN_MAX_FAILURES_PER_NETWORK
        ]
    )
    verdict = _lockout_from(per_network, settings.SIGNIN_MAX_FAILURES_PER_NETWORK, now)
    if verdict.locked:
        return verdict
    per_account = list(
        failures.filter(account_key=key, at__gt=account_since).values_list("at", flat=True)[
            : settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT
        ]
    )
    return _lockout_from(per_account, settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT, now)


def signin_attempt_record(
    *,
    email: str,
    network: str,
    outcome: SignInOutcome,
    user: User | None = None,
    previous_login: datetime | None = None,
) -> SignInAttempt:
    # A savepoint inside the request's transaction: the sign-in views answer a failure with a
    # normal (non-error) response, so the request commits and the attempt is kept.
    if outcome in (*FAILURES, SignInOutcome.LOCKED):
        SIGNIN_FAILURES.labels(str(outcome)).inc()
    with transaction.atomic():
        attempt = SignInAttempt.objects.create(
            account_key=account_key(email), user=user, network=network, outcome=outcome
        )
        # A failure or a lock names the account it was for, when there is one (an owner
        # sees attempts on their team's accounts); never the address typed in.
        target = user
        if target is None and outcome in (SignInOutcome.FAILURE, SignInOutcome.LOCKED):
            target = User.objects.filter(email__iexact=email.strip()).only("pk").first()
        _audit_attempt(outcome, user, target=target, previous_login=previous_login)
        return attempt


def _audit_attempt(
    outcome: str,
    user: User | None,
    *,
    target: User | None = None,
    previous_login: datetime | None = None,
) -> None:
    """The attempt in the audit trail (P5): the user's id when known, never the address
    typed in."""
    from bookwell.audit.models import Action, ActorKind, Outcome, TargetKind
    from bookwell.audit.services import (
        Actor,
        audit_record,
        security_sighting,
        signin_notice_if_new,
    )

    action, result = {
        SignInOutcome.SUCCESS: (Action.SIGNIN_SUCCEEDED, Outcome.SUCCESS),
        SignInOutcome.FAILURE: (Action.SIGNIN_FAILED, Outcome.FAILURE),
        SignInOutcome.MFA_FAILURE: (Action.MFA_FAILED, Outcome.FAILURE),
        SignInOutcome.LOCKED: (Action.SIGNIN_LOCKED, Outcome.DENIED),
        SignInOutcome.RESET: (Action.PASSWORD_RESET, Outcome.SUCCESS),
    }[SignInOutcome(outcome)]
    actor = Actor.user(user) if user is not None else Actor(ActorKind.ANONYMOUS)
    extra = {}
    if action == Action.SIGNIN_FAILED:
        extra["reason"] = "password" if target is not None else "unknown_account"
    event = audit_record(
        action=action,
        outcome=result,
        actor=actor,
        target_kind=TargetKind.USER if target is not None else TargetKind.NONE,
        target_id=target.pk if target is not None else "",
        extra=extra,
    )
    security_sighting(action=action, user=user)
    if action == Action.SIGNIN_SUCCEEDED and user is not None:
        signin_notice_if_new(user=user, event=event, previous_login=previous_login)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    lockout: Lockout
    needs_second_factor: bool = False


def signin_check_password(
    *, request: object, email: str, password: str, network: str
) -> SignInResult:
    """First step of sign-in. Never says whether the account exists."""
    lockout = signin_lockout(email=email, network=network)
    if lockout.locked:
        signin_attempt_record(email=email, network=network, outcome=SignInOutcome.LOCKED)
        return SignInResult(None, lockout)
    user = authenticate(request, username=email, password=password)  # type: ignore[arg-type]
    if not isinstance(user, User):
        signin_attempt_record(email=email, network=network, outcome=SignInOutcome.FAILURE)
        return SignInResult(None, signin_lockout(email=email, network=network))
    if user.mfa_enabled:
        return SignInResult(user, lockout, needs_second_factor=True)
    return SignInResult(user, lockout)


def signin_check_second_factor(
    *, user: User, code: str, network: str, enforce_lock: bool = True
) -> SignInResult:
    lockout = signin_lockout(email=user.email, network=network) if enforce_lock else Lockout(False)
    if lockout.locked:
        signin_attempt_record(
            email=user.email, network=network, outcome=SignInOutcome.LOCKED, user=user
        )
        return SignInResult(None, lockout)
    if mfa_verify(user=user, code=code):
        return SignInResult(user, lockout)
    signin_attempt_record(
        email=user.email, network=network, outcome=SignInOutcome.MFA_FAILURE, user=user
    )
    return SignInResult(None, signin_lockout(email=user.email, network=network))


def signin_succeeded(*, user: User, network: str, previous_login: datetime | None = None) -> None:
    signin_attempt_record(
        email=user.email,
        network=network,
        outcome=SignInOutcome.SUCCESS,
        user=user,
        previous_login=previous_login,
    )


def password_reset_completed(*, user: User, network: str) -> None:
    """A reset proves control of the mailbox: it lifts the account's lockouts."""
    signin_attempt_record(email=user.email, network=network, outcome=SignInOutcome.RESET, user=user)


def sign_out_everywhere(*, user: User) -> None:
    """Invalidates every session of the user (the session hash includes the salt)."""
    user.session_salt = new_session_salt()
    user.save(update_fields=["session_salt"])


# --- TOTP -------------------------------------------------------------------------------------


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_provisioning_uri(*, user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Bookwell")


def _totp_matching_step(secret: str, code: str, after_step: int, now: float | None = None) -> int:
    """The time step (current ±1) whose code equals `code` and is newer than `after_step`."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return 0
    hotp = pyotp.HOTP(secret)
    current = int((now if now is not None else time.time()) // TOTP_STEP)
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(hotp.at(step), code):
            return step
    return 0


def _recovery_hash(code: str) -> str:
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return salted_hmac("bookwell.accounts.recovery", normalised, algorithm="sha256").hexdigest()


def mfa_verify(*, user: User, code: str) -> bool:
    """Accepts a fresh TOTP code or an unused recovery code, each exactly once."""
    if not user.mfa_enabled:
        return False
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        step = _totp_matching_step(locked.totp_secret, code, locked.totp_last_step)
        if step:
            User.objects.filter(pk=user.pk).update(totp_last_step=step)
            user.totp_last_step = step
            return True
        used = RecoveryCode.objects.filter(
            user=user, code_hash=_recovery_hash(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        return used == 1


def mfa_enable(*, user: User, secret: str, code: str) -> list[str] | None:
    """Confirms enrolment with a code from the new secret; returns fresh recovery codes."""
    step = _totp_matching_step(secret, code, 0)
    if not step:
        _audit_account(Action.MFA_FAILED, user, failed=True)  # a wrong code at enrolment
        return None
    with transaction.atomic():
        user.totp_secret = secret
        user.totp_enabled_at = timezone.now()
        user.totp_last_step = step
        user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])
        _audit_account(Action.MFA_ENABLED, user)
        return recovery_codes_regenerate(user=user, audited=False)


def mfa_disable(*, user: User) -> None:
    with transaction.atomic():
        user.totp_secret = ""
        user.totp_enabled_at = None
        user.totp_last_step = 0
        user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])
        RecoveryCode.objects.filter(user=user).delete()
        _audit_account(Action.MFA_DISABLED, user)


def recovery_codes_regenerate(*, user: User, audited: bool = True) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)  # 40 bits, shown as xxxxx-xxxxx
        codes.append(f"{raw[:5]}-{raw[5:]}")
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_recovery_hash(c)) for c in codes]
        )
        if audited:  # (with a new enrolment, that event says it)
            _audit_account(Action.RECOVERY_CODES_NEW, user)
    return codes


def password_changed(*, user: User) -> None:
    """After the user changed their own password (Django's form has saved it)."""
    _audit_account(Action.PASSWORD_CHANGED, user)


def _audit_account(action: str, user: User, *, failed: bool = False) -> None:
    """An account change in the platform's trail (the account is not a clinic's)."""
    from bookwell.audit.models import Outcome, TargetKind
    from bookwell.audit.services import audit

    audit(
        action,
        clinic_id=None,
        target_kind=TargetKind.USER,
        target_id=user.pk,
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
    )


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
