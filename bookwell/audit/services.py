"""Writing and checking the audit trail. `audit_record` is called by the services and views
that do the action, inside the same transaction (a refusal in its own)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bookwell.audit.guard import deletes_allowed
from bookwell.audit.models import (
    Action,
    ActorKind,
    AuditEvent,
    ChainHead,
    IpHashKey,
    Outcome,
    PurgePermit,
    SecuritySighting,
    TargetKind,
)
from bookwell.audit.signals import RequestSignals, signals_of
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.metrics import DENIALS

# What each action may carry besides its fixed fields: ids and enums, nothing else (P7).
EXTRA_ALLOWED: dict[str, dict[str, type]] = {
    Action.SIGNIN_FAILED: {"reason": str},
    Action.API_TOKEN_CREATED: {"scopes": list},
    Action.PERMISSION_DENIED: {"route": str, "permission": str},
    Action.SIGNIN_NEW_CONTEXT: {"changed": list},
    Action.INVITATION_SENT: {"role": str},
    Action.ROLE_CHANGED: {"role": str, "previous": str},
    Action.MEMBER_REMOVED: {"role": str},
    Action.SETTINGS_CHANGED: {"section": str, "fields": list},
    Action.PLAN_CHANGED: {"plan": str},
    Action.CATALOG_CHANGED: {"change": str},
    Action.SCHEDULE_CHANGED: {"what": str, "change": str},
    Action.CLIENT_VIEWED: {"via": str},
    Action.CLIENTS_IMPORTED: {"rows": int},
    Action.CLIENTS_LISTED: {"via": str, "rows": int},
    Action.CLIENT_COPY_DOWNLOADED: {"format": str, "via": str},
    Action.CLIENT_ERASED: {"rows": int},
    Action.CLINIC_PURGED: {"rows": int},
    Action.PAYMENT_REFUNDED: {"refund_reason": str},
    Action.PAYMENTS_EXPORTED: {"rows": int},
    Action.PRIVACY_REQUEST_RECORDED: {"kind": str, "source": str},
    Action.PRIVACY_REQUEST_CLOSED: {"kind": str, "status": str},
    Action.API_TOKEN_REFUSED: {"reason": str},
    Action.TEMPLATE_CHANGED: {"kind": str, "channel": str, "language": str, "change": str},
    Action.INTEGRATION_CHANGED: {"what": str, "change": str},
}
EXTRA_VALUES = {
    "reason": {
        "password",
        "unknown_account",
        "locked",
        "inactive",
        # API tokens refused:
        "unknown_token",
        "wrong_secret",
        "revoked",
        "expired",
    },
    "change": {
        "saved",
        "reset",
        "archived",
        "restored",
        "added",
        "removed",
        "replaced",
        "set",
        "switched_on",
        "switched_off",
    },
}
_ID_CHARS = set("0123456789abcdef-")
_CODE = re.compile(r"[a-z0-9_.:-]{1,60}")  # route names, permission and scope codes


class AuditError(ValueError):
    """A call that would put something other than ids and enums into the trail."""


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str = ""

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(ActorKind.USER, str(user.pk))


def _check_id(value: str) -> str:
    if len(value) > 40 or not set(value.lower()) <= _ID_CHARS:
        raise AuditError("an audit id must be a number or a UUID")
    return value


def _check_extra(action: str, extra: dict[str, Any]) -> dict[str, Any]:
    allowed = EXTRA_ALLOWED.get(action, {})
    for key, value in extra.items():
        if key not in allowed or not isinstance(value, allowed[key]):
            raise AuditError(f"{key!r} is not recorded for {action}")
        if key in EXTRA_VALUES and value not in EXTRA_VALUES[key]:
            raise AuditError(f"{value!r} is not a known {key}")
        if isinstance(value, bool) or (isinstance(value, int) and not 0 <= value < 10**9):
            raise AuditError(f"{key!r} is not a count")
        if isinstance(value, str) and not _CODE.fullmatch(value):
            raise AuditError(f"{key!r} holds something other than a code")
        if isinstance(value, list) and not all(
            isinstance(v, str) and len(v) <= 40 and v.replace("_", "").replace(":", "").isalnum()
            for v in value
        ):
            raise AuditError(f"{key!r} holds something other than codes")
    return dict(extra)


def canonical(event: AuditEvent) -> bytes:
    """The bytes the chain signs: every recorded field, in a fixed order and form."""
    fields = {
        "chain": event.chain,
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "outcome": event.outcome,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "clinic_id": event.clinic_id,
        "target_kind": event.target_kind,
        "target_id": event.target_id,
        "ip_network": event.ip_network,
        "ip_hash": event.ip_hash,
        "device": event.device,
        "browser": event.browser,
        "os": event.os,
        "country": event.country,
        "request_id": event.request_id,
        "extra": event.extra,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _chain_key() -> bytes:
    return hashlib.sha256(b"bookwell.audit.chain:" + settings.SECRET_KEY.encode()).digest()


def link(prev_hash: str, event: AuditEvent) -> str:
    return hmac.new(
        _chain_key(), prev_hash.encode() + b"\n" + canonical(event), hashlib.sha256
    ).hexdigest()


def audit_platform_first() -> None:
    """For a transaction that appends to a clinic's chain and then to the platform's (an
    invitation accepted by a new account that is then signed in): takes the platform chain's
    lock first. A sign-in takes the platform's and then its clinics' (the new-sign-in notice);
    two transactions taking the same two locks in opposite orders could deadlock."""
    with platform_scope("audit: the platform chain's lock, first"):
        ChainHead.objects.get_or_create(chain=0)
        list(ChainHead.objects.select_for_update().filter(chain=0).values_list("chain"))


def audit_record(
    *,
    action: str,
    outcome: str = Outcome.SUCCESS,
    actor: Actor,
    clinic_id: int | None = None,
    target_kind: str = TargetKind.NONE,
    target_id: object = "",
    request: HttpRequest | None = None,
    signals: RequestSignals | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """Appends one event to its clinic's chain (the platform's when clinic_id is None)."""
    if action not in Action.values or outcome not in Outcome.values:
        raise AuditError("unknown action or outcome")
    if actor.kind not in ActorKind.values or target_kind not in TargetKind.values:
        raise AuditError("unknown actor or target kind")
    checked = _check_extra(action, extra or {})
    if request is None:
        from bookwell.audit.middleware import current_request

        request = current_request.get()
    where = signals or signals_of(request)
    if request is not None:
        # This request's transaction holds an event: its commit must be durable (an API
        # read relaxes that only when its counters are all it wrote).
        request.audit_written = True  # type: ignore[attr-defined]
    chain = int(clinic_id or 0)
    scope = (
        clinic_context(clinic_id)
        if clinic_id
        else platform_scope("an audit event outside any clinic")
    )
    with scope, transaction.atomic():
        ChainHead.objects.get_or_create(chain=chain)
        head = ChainHead.objects.select_for_update().get(chain=chain)
        event = AuditEvent(
            chain=chain,
            seq=head.seq + 1,
            at=timezone.now(),
            action=action,
            outcome=outcome,
            actor_kind=actor.kind,
            actor_id=_check_id(actor.id),
            clinic_id=clinic_id,
            target_kind=target_kind,
            target_id=_check_id(str(target_id or "")),
            ip_network=where.ip_network,
            ip_hash=where.ip_hash,
            device=where.device,
            browser=where.browser,
            os=where.os,
            country=where.country,
            request_id=where.request_id,
            extra=checked,
            prev_hash=head.hash,
        )
        event.hash = link(head.hash, event)
        event.save()
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    chain: int
    events: int
    intact: bool
    broken_at: int | None = None  # the seq of the first event that does not check out
    reason: str = ""


def audit_verify(chain: int) -> ChainReport:
    """Walks one chain in order and says where it first breaks: an event changed (its hash),
    removed or reordered (a gap, or a link to the wrong predecessor), or cut off at the end
    (fewer events than the head says)."""
    with platform_scope("verifying an audit chain"):
        head = ChainHead.objects.filter(chain=chain).first()
        prev, expected = (head.first_prev, head.first_seq) if head else ("", 1)
        count = 0
        for event in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator():
            count += 1
            if event.seq != expected:
                return ChainReport(chain, count, False, expected, "missing event")
            if event.prev_hash != prev:
                return ChainReport(chain, count, False, event.seq, "wrong predecessor")
            if link(prev, event) != event.hash:
                return ChainReport(chain, count, False, event.seq, "altered")
            prev, expected = event.hash, expected + 1
        if head is not None and (head.seq != expected - 1 or head.hash != prev):
            return ChainReport(chain, count, False, expected, "missing at the end")
    return ChainReport(chain, count, True)


def chains() -> list[int]:
    with platform_scope("listing audit chains"):
        return list(ChainHead.objects.order_by("chain").values_list("chain", flat=True))


def ip_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Destroys the address-hashing keys older than the window (P6)."""
    today = (now or timezone.now()).date()
    cutoff = today - dt.timedelta(days=settings.AUDIT_IP_KEY_DAYS)
    deleted, _ = IpHashKey.objects.filter(day__lt=cutoff).delete()
    return int(deleted)


def audit_purge_before(*, before: dt.datetime | dict[int, dt.datetime]) -> int:
    """The retention path: removes events older than `before` (one moment for every chain,
    or one per chain: 0 is the platform's, otherwise a clinic's id; chains left out are kept
    whole), the only DELETE the database lets through (a permit row exists for the length of
    this transaction). The chains then start later; `audit_verify` checks from the first
    event kept."""
    with platform_scope("audit retention"), deletes_allowed(), transaction.atomic():
        permit = PurgePermit.objects.create()
        deleted = 0
        for head in ChainHead.objects.select_for_update().order_by("chain"):
            cutoff = before.get(head.chain) if isinstance(before, dict) else before
            if cutoff is None:
                continue
            old = AuditEvent.objects.filter(chain=head.chain, at__lt=cutoff)
            last = old.order_by("-seq").values_list("seq", "hash").first()
            if last is None:
                continue
            count, _ = old.delete()
            deleted += count
            head.first_seq, head.first_prev = last[0] + 1, last[1]
            head.save(update_fields=["first_seq", "first_prev"])
        permit.delete()
    return deleted


def audit_chain_delete(*, chain: int) -> int:
    """A deleted clinic's whole audit log goes with it (P16), through the same permit as
    retention; the platform's chain (0) is never deleted. Returns the events deleted."""
    if not chain:
        raise AuditError("the platform's audit chain is never deleted")
    with platform_scope("audit: a deleted clinic's log"), deletes_allowed(), transaction.atomic():
        permit = PurgePermit.objects.create()
        deleted, _ = AuditEvent.objects.filter(chain=chain).delete()
        ChainHead.objects.filter(chain=chain).delete()
        permit.delete()
    return int(deleted)


def security_sighting(*, action: str, user: Any = None, request: HttpRequest | None = None) -> None:
    """Keeps the full address of a sign-in attempt for the security window (P6)."""
    if request is None:
        from bookwell.audit.middleware import current_request

        request = current_request.get()
    if request is None:
        return
    from bookwell.core.net import client_ip

    ip = client_ip(request)
    try:
        import ipaddress

        ipaddress.ip_address(ip)
    except ValueError:
        return
    SecuritySighting.objects.create(
        user=user if user is not None and user.pk else None,
        ip=ip,
        at=timezone.now(),
        action=action,
    )


def audit_retention(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The daily job: full addresses and address-hashing keys past their window go, and so
    do events older than each clinic's plan keeps them (P9; the platform's own events after
    AUDIT_PLATFORM_RETENTION_DAYS)."""
    from bookwell.tenancy.models import Clinic
    from bookwell.tenancy.plans import plan_of

    now = now or timezone.now()
    raw, _ = SecuritySighting.objects.filter(
        at__lt=now - dt.timedelta(days=settings.AUDIT_RAW_IP_DAYS)
    ).delete()
    cutoffs = {0: now - dt.timedelta(days=settings.AUDIT_PLATFORM_RETENTION_DAYS)}
    for clinic in Clinic.objects.only("pk", "plan"):
        cutoffs[clinic.pk] = now - dt.timedelta(days=plan_of(clinic).audit_retention_days)
    return {
        "raw_ips": int(raw),
        "ip_keys": ip_keys_purge(now=now),
        "events": audit_purge_before(before=cutoffs),
    }


def audit_settings_changed(*, clinic_id: int, section: str, fields: Iterable[str]) -> None:
    """Which of a clinic's settings changed, by name (never their values: a name or an
    address could be one)."""
    audit(
        Action.SETTINGS_CHANGED,
        clinic_id=clinic_id,
        target_kind=TargetKind.CLINIC,
        target_id=clinic_id,
        extra={"section": section, "fields": sorted(fields)},
    )


def deny_later(
    request: HttpRequest, *, actor: Actor, clinic_id: int, permission: str, route: str
) -> None:
    """Notes a refusal; the audit middleware records it once the request's own transaction
    has rolled back (a denial is recorded in its own, P5)."""
    request.audit_denial = {  # type: ignore[attr-defined]
        "actor": actor,
        "clinic_id": clinic_id,
        "extra": {"permission": permission, "route": route.lower()[:60]},
    }


def token_refused_later(
    request: HttpRequest, *, reason: str, clinic_id: int | None, token_id: int | None
) -> None:
    """Notes an API token refused (unknown, wrong secret, revoked, expired), recorded like a
    denial once the request has rolled back: in the token's clinic when the token is known,
    else the platform's. At most a few per token or network per ten minutes, so a flood of
    made-up tokens cannot flood the log."""
    from bookwell.core import ratelimit
    from bookwell.core.net import client_ip, network_of

    subject = f"token:{token_id}" if token_id else f"net:{network_of(client_ip(request))}"
    # (without the cache: capped, so a flood cannot write an event per request)
    if ratelimit.hit("audit-token-refused", subject, limit=5, window_s=600, fail_closed=True):
        # Past the cap: no more events, but the metric counts every one (a flood is what the
        # repeated-denials alert is for).
        DENIALS.labels(str(Action.API_TOKEN_REFUSED)).inc()
        return
    request.audit_denial = {  # type: ignore[attr-defined]
        "action": Action.API_TOKEN_REFUSED,
        "actor": Actor(ActorKind.API_TOKEN, str(token_id))
        if token_id
        else Actor(ActorKind.ANONYMOUS),
        "clinic_id": clinic_id,
        "target_kind": TargetKind.API_TOKEN if token_id else TargetKind.NONE,
        "target_id": token_id or "",
        "extra": {"reason": reason},
    }


def record_denial(request: HttpRequest) -> None:
    denial = getattr(request, "audit_denial", None)
    if not denial:
        return
    DENIALS.labels(str(denial.get("action", Action.PERMISSION_DENIED))).inc()
    audit_record(
        action=denial.get("action", Action.PERMISSION_DENIED),
        outcome=Outcome.DENIED,
        actor=denial["actor"],
        clinic_id=denial["clinic_id"],
        target_kind=denial.get("target_kind", TargetKind.NONE),
        target_id=denial.get("target_id", ""),
        request=request,
        extra=denial["extra"],
    )


NOTICE_WINDOW = dt.timedelta(days=90)


def signin_notice_if_new(
    *, user: Any, event: AuditEvent, previous_login: dt.datetime | None = None
) -> list[str]:
    """After a sign-in: if its device class, browser family or country was not seen for this
    user in 90 days, the user gets a "was this you?" email and each of their clinics an event
    (P11). Never a block: the sign-in has happened. Returns what was new."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from bookwell.core.mail import send_now_or_log
    from bookwell.tenancy.models import Membership

    with platform_scope("a user's recent sign-ins"):
        seen = list(
            AuditEvent.objects.filter(
                chain=0,
                action=Action.SIGNIN_SUCCEEDED,
                actor_kind=ActorKind.USER,
                actor_id=str(user.pk),
                at__gte=event.at - NOTICE_WINDOW,
            )
            .exclude(pk=event.pk)
            .values_list("device", "browser", "country")
        )
        if not seen:
            # Signed in before? The account says so (`previous_login`, taken before this
            # sign-in moved it), even when the events of that time are past retention.
            earlier = (previous_login is not None and previous_login < event.at) or (
                AuditEvent.objects.filter(
                    chain=0,
                    action=Action.SIGNIN_SUCCEEDED,
                    actor_kind=ActorKind.USER,
                    actor_id=str(user.pk),
                    at__lt=event.at,
                )
                .exclude(pk=event.pk)
                .exists()
            )
            if not earlier:  # a first sign-in: nothing to compare with
                return []
        # After a quiet spell (nothing in the window), everything about it is new: a dormant
        # account signed into again deserves the notice most.
        changed = [
            name
            for name, value, known in (
                ("device", event.device, {d for d, _b, _c in seen}),
                ("browser", event.browser, {b for _d, b, _c in seen}),
                ("country", event.country, {c for _d, _b, c in seen}),
            )
            if value not in known
        ]
        if not changed:
            return []
        clinics = list(
            Membership.objects.filter(user=user)
            .order_by("clinic_id")
            .values_list("clinic_id", flat=True)
        )
    for clinic_id in clinics:  # for the owners' view of their team's sign-ins
        audit_record(
            action=Action.SIGNIN_NEW_CONTEXT,
            actor=Actor.user(user),
            clinic_id=clinic_id,
            target_kind=TargetKind.USER,
            target_id=user.pk,
            extra={"changed": changed},
        )
    subject = _("New sign-in to your Bookwell account")
    body = _(
        "Your account was just signed in to from a device, browser or country it has not "
        "used lately.\n\nWhen: %(at)s (UTC)\nDevice: %(device)s\nBrowser: %(browser)s\n"
        "System: %(os)s\nCountry: %(country)s\n\nIf this was you, there is nothing to do. "
        "If it was not, change your password and sign out everywhere: %(url)s\n"
    ) % {
        "at": event.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "device": event.device,
        "browser": event.browser or "-",
        "os": event.os or "-",
        "country": event.country,
        "url": settings.BASE_URL.rstrip("/") + reverse("accounts:account"),
    }
    email = user.email
    transaction.on_commit(
        lambda: send_now_or_log(kind="signin_notice", subject=subject, body=body, to=email)
    )
    return changed


def current_actor() -> Actor:
    """Who is acting in the request at hand: its API token, its signed-in user, or (outside
    a request: the worker, a command) the system."""
    from bookwell.audit.middleware import current_request

    request = current_request.get()
    if request is not None:
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "prefix", None):
            return Actor(ActorKind.API_TOKEN, str(token.pk))
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return Actor.user(user)
    return Actor(ActorKind.SYSTEM)


def audit(
    action: str,
    *,
    clinic_id: int | None,
    target_kind: str = TargetKind.NONE,
    target_id: object = "",
    extra: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
) -> AuditEvent:
    """`audit_record` with the acting user or token of the request at hand."""
    return audit_record(
        action=action,
        outcome=outcome,
        actor=current_actor(),
        clinic_id=clinic_id,
        target_kind=target_kind,
        target_id=target_id,
        extra=extra,
    )
