"""API tokens: made, found, revoked (the REST API's credentials, one clinic each)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.audit.models import Action, ActorKind, TargetKind
from bookwell.audit.services import Actor, audit_record
from bookwell.core.context import platform_scope
from bookwell.core.db.statements import Shape, fetch_batch
from bookwell.core.errors import ServiceError
from bookwell.integrations.models import ApiToken
from bookwell.integrations.scopes import Scope
from bookwell.tenancy.models import Clinic

PREFIX = "bw_"
MAX_TOKENS_PER_CLINIC = 50


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _validate(name: str, scopes: list[str], expires_at: dt.datetime | None) -> list[str]:
    name = name.strip()
    if not name or len(name) > 80:
        raise ServiceError(_("Give the token a name of up to 80 characters."), code="invalid_name")
    chosen = sorted(set(scopes))
    known = {s.value for s in Scope}
    if not chosen or not set(chosen) <= known:
        raise ServiceError(_("Choose at least one of the listed scopes."), code="invalid_scopes")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError(_("The expiry must be in the future."), code="invalid_expiry")
    return chosen


def api_token_create(
    *,
    clinic: Clinic,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime | None = None,
    created_by: User | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the clinic and its secret, which is never shown again."""
    chosen = _validate(name, scopes, expires_at)
    if ApiToken.objects.filter(revoked_at__isnull=True).count() >= MAX_TOKENS_PER_CLINIC:
        raise ServiceError(
            _("A clinic can hold %(n)d active tokens; revoke one first.")
            % {"n": MAX_TOKENS_PER_CLINIC},
            code="too_many_tokens",
        )
    for _attempt in range(5):
        prefix = secrets.token_hex(5)  # 10 characters, unique across the platform
        secret = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    clinic=clinic,
                    name=name.strip(),
                    prefix=prefix,
                    digest=_digest(secret),
                    scopes=chosen,
                    expires_at=expires_at,
                    created_by=created_by,
                )
        except IntegrityError:  # the prefix was taken: draw again
            continue
        audit_record(
            action=Action.API_TOKEN_CREATED,
            actor=_actor(created_by),
            clinic_id=clinic.pk,
            target_kind=TargetKind.API_TOKEN,
            target_id=token.pk,
            extra={"scopes": chosen},
        )
        return token, secret
    raise ServiceError(_("Could not make a token; try again."), code="token_failed")


def api_token_revoke(*, token: ApiToken, by: User | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action=Action.API_TOKEN_REVOKED,
            actor=_actor(by),
            clinic_id=token.clinic_id,
            target_kind=TargetKind.API_TOKEN,
            target_id=token.pk,
        )
    return token


def _actor(user: User | None) -> Actor:
    """The signed-in user, or the system (the operator's `bookwell token` command)."""
    return Actor.user(user) if user is not None else Actor(ActorKind.SYSTEM)


@functools.cache
def _token_read(alias: str) -> tuple[str, Shape[ApiToken], Shape[Clinic]]:
    """The token with its clinic in one plain statement (every API request runs it; the
    compiled queryset cost more than its round trip)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    token, clinic = Shape(ApiToken, connection), Shape(Clinic, connection, leave_out="logo")
    tokens, clinics = quote(ApiToken._meta.db_table), quote(Clinic._meta.db_table)
    sql = (
        f"SELECT {token.select('t')}, {clinic.select('c')} FROM {tokens} t "  # noqa: S608
        f"JOIN {clinics} c ON c.{quote('id')} = t.{quote('clinic_id')} "
        f"WHERE t.{quote('prefix')} = %s"
    )
    return sql, token, clinic


@dataclass
class Refusal:
    """Why a secret was not a live token (for the audit log): a fixed reason, and the token
    (so its clinic) when the secret named one."""

    reason: str = "unknown_token"
    token: ApiToken | None = None


def api_token_find(secret: str, refusal: Refusal | None = None) -> ApiToken | None:
    """The live token this secret belongs to (with its clinic), or None (and, given a
    `refusal`, why).

    A platform read by prefix, then a constant-time comparison of the digest; the last-used
    date is written at most once a day."""
    if not secret.startswith(PREFIX) or len(secret) > 120:
        return None
    prefix, _sep, rest = secret[len(PREFIX) :].partition("_")
    if not rest or len(prefix) != 10:
        return None
    alias = router.db_for_read(ApiToken)
    sql, token_shape, clinic_shape = _token_read(alias)
    with platform_scope("an API token is looked up before its clinic is known"):
        # Prepared on PostgreSQL: every API request asks it (bench/api_load.py).
        (found,) = fetch_batch(alias, [(sql, [prefix])])
        if not found:
            return None
        row = found[0]
        token = token_shape.instance(row)
        if not hmac.compare_digest(token.digest, _digest(secret)):
            if refusal is not None:
                refusal.reason, refusal.token = "wrong_secret", token
            return None
        token.clinic = clinic_shape.instance(row, token_shape.width)
        now = timezone.now()
        if token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
            if refusal is not None:
                refusal.token = token
                refusal.reason = "revoked" if token.revoked_at is not None else "expired"
            return None
        today = now.date()
        if token.last_used_on != today:
            ApiToken.objects.filter(pk=token.pk).update(last_used_on=today)
            token.last_used_on = today
    return token
