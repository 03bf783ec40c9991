"""Webhooks: events recorded in the same transaction as the change (the database is the
outbox), delivered by the worker in order per endpoint, signed, retried with backoff.

Signature (documented in docs/api.md): the header
`Bookwell-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Receivers
recompute it and refuse a timestamp older than REPLAY_WINDOW.

Requests go only to public addresses (SSRF): the host is resolved once, every address it
resolves to must be public, and the connection is made to that checked address (a second
lookup cannot swap in a private one). Redirects are not followed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.db.statements import Columns, fetch_batch
from bookwell.integrations.models import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookStatus,
)
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic

logger = logging.getLogger("bookwell.webhooks")

REPLAY_WINDOW = dt.timedelta(minutes=5)
USER_AGENT = "Bookwell-Webhooks/1"
OPEN = [WebhookStatus.PENDING, WebhookStatus.SENDING]


# --- Signing -------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """What a receiver does (docs/api.md has the same in a few lines)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > REPLAY_WINDOW.total_seconds():
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Where requests may go (SSRF) ----------------------------------------------------------


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address, translated
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def _public(ip: str) -> bool:
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in NAT64_LOCAL:
            return False
        if addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        elif addr in NAT64 or addr in IPV4_COMPATIBLE:
            addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr.is_global and not addr.is_multicast


def resolve(url: str) -> tuple[str, int, str, list[str]]:
    """(scheme, port, host, addresses) for a URL we may call; raises Refused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused("bad_url")
    if parts.scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise Refused("https_required")
    if parts.username or parts.password:
        raise Refused("credentials_in_url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range
        raise Refused("bad_url") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused("dns") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused("dns")
    if not settings.WEBHOOKS_ALLOW_PRIVATE and not all(_public(a) for a in addresses):
        raise Refused("private_address")
    return parts.scheme, port, parts.hostname, addresses


def check_url(url: str) -> None:
    """For the endpoint form: a clear error for a URL the worker would refuse."""
    try:
        resolve(url)
    except Refused as exc:
        messages = {
            "https_required": _("Use an https:// address."),
            "private_address": _(
                "This address points into a private network; webhooks go to public addresses only."
            ),
            "dns": _("This host name does not resolve."),
            "credentials_in_url": _("Leave user names and passwords out of the address."),
        }
        raise ValidationError(
            {"url": [messages.get(exc.code, _("Enter a valid web address."))]}
        ) from exc


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POSTs to the URL's checked address; the status code (no redirects followed)."""
    scheme, port, host, addresses = resolve(url)
    parts = urlsplit(url)
    # A path or query with other than ASCII goes percent-encoded, as browsers send it.
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~") + (
        f"?{quote(parts.query, safe='/%:@!$&()*+,;=?-._~')}" if parts.query else ""
    )
    kind = _PinnedTLS if scheme == "https" else _Pinned
    conn = kind(host, port, addresses[0], settings.WEBHOOKS_TIMEOUT)
    # WEBHOOKS_TIMEOUT bounds each read; this bounds the whole request (a receiver that
    # answers a byte at a time must not hold the worker): the socket is shut at the deadline.
    deadline = threading.Timer(settings.WEBHOOKS_TIMEOUT, _hang_up, args=(conn,))
    deadline.start()
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)  # a little of the answer, then hang up; never stored
        return int(response.status)
    finally:
        deadline.cancel()
        conn.close()


def _hang_up(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# --- Recording events (in the caller's transaction) ----------------------------------------


def appointment_data(appointment: Any) -> dict[str, Any]:
    return {
        "id": str(appointment.pk),
        "service_id": appointment.service_id,
        "staff_id": appointment.staff_id,
        "room_id": appointment.room_id,
        "client_id": str(appointment.client_id) if appointment.client_id else None,
        "start": appointment.start.astimezone(dt.UTC).isoformat(),
        "end": appointment.end.astimezone(dt.UTC).isoformat(),
        "status": appointment.status,
        "cancel_reason": appointment.cancel_reason or None,
        "source": appointment.source,
    }


def client_data(client: Any) -> dict[str, Any]:
    return {"client_id": str(client.pk), "restricted": client.restricted}


def emit(clinic: Clinic | int, event: str, data: dict[str, Any]) -> int:
    """Records the event for every active endpoint of the clinic that asked for it; sent
    after the surrounding transaction commits. Returns how many deliveries were recorded."""
    return emit_many(clinic, event, [data])


@functools.cache
def _endpoints_read(alias: str) -> tuple[str, Columns]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = Columns(connection, ("e", WebhookEndpoint, "id"), ("e", WebhookEndpoint, "events"))
    # Identifiers come from the model and are quoted; the values are bound parameters.
    sql = (
        f"SELECT {columns.sql} FROM {quote(WebhookEndpoint._meta.db_table)} e "  # noqa: S608
        f"WHERE e.{quote('clinic_id')} = %s AND e.{quote('active')} = %s"
    )
    return sql, columns


def endpoints_statement(clinic_id: int) -> tuple[str, list[Any]]:
    """The read of the clinic's active endpoints, for a caller that sends it with its own
    statements (a booking's writes); its rows go to emit_found."""
    sql, _columns = _endpoints_read(router.db_for_read(WebhookEndpoint))
    return sql, [clinic_id, True]


def _active_endpoints(clinic_id: int) -> list[tuple[Any, ...]]:
    """(id, events) of the clinic's active endpoints: one prepared statement, as every
    booking and every client change asks (bench/api_load.py)."""
    (found,) = fetch_batch(router.db_for_read(WebhookEndpoint), [endpoints_statement(clinic_id)])
    return found


def emit_many(clinic: Clinic | int, event: str, items: list[dict[str, Any]]) -> int:
    """One event per item (e.g. every client of an import), with one look at the endpoints."""
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    with clinic_context(clinic_id):
        return emit_found(clinic_id, event, items, _active_endpoints(clinic_id))


def emit_found(
    clinic_id: int, event: str, items: list[dict[str, Any]], endpoint_rows: list[tuple[Any, ...]]
) -> int:
    """emit_many with the endpoints already read (endpoints_statement's rows)."""
    _sql, columns = _endpoints_read(router.db_for_read(WebhookEndpoint))
    with clinic_context(clinic_id):
        endpoints = [pk for pk, events in columns.rows(endpoint_rows) if event in events]
        if not endpoints or not items:
            return 0
        now = timezone.now()
        rows: list[WebhookDelivery] = []
        for data in items:
            event_id = uuid.uuid4()
            payload = {
                "id": str(event_id),
                "type": event,
                "created_at": now.isoformat(),
                "clinic_id": clinic_id,
                "data": data,
            }
            rows.extend(
                WebhookDelivery(
                    clinic_id=clinic_id,
                    endpoint_id=endpoint,
                    event_id=event_id,
                    event=event,
                    payload=payload,
                    next_attempt_at=now,
                )
                for endpoint in endpoints
            )
        WebhookDelivery.objects.bulk_create(rows, batch_size=500)
    return len(rows)


# --- Endpoints (the settings page) ---------------------------------------------------------


def endpoint_create(
    *, clinic: Clinic, url: str, events: list[str], include_contact: bool = False
) -> tuple[WebhookEndpoint, str]:
    check_url(url)
    chosen = sorted(set(events))
    if not chosen or not set(chosen) <= set(WebhookEvent.values):
        raise ValidationError({"events": [_("Choose at least one event.")]})
    secret = new_secret()
    endpoint = WebhookEndpoint(
        clinic=clinic,
        url=url,
        events=chosen,
        include_contact=include_contact,
        secret=secret,
        key_version=keyring.active_version(clinic.pk),
    )
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        _endpoint_audit(endpoint, "added")
    return endpoint, secret


def endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    endpoint.active = active
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    with transaction.atomic():
        endpoint.save(
            update_fields=["active", "disabled_reason", "consecutive_failures", "updated_at"]
        )
        _endpoint_audit(endpoint, "switched_on" if active else "switched_off")
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        _endpoint_audit(endpoint, "removed")
        endpoint.delete()


def _endpoint_audit(endpoint: WebhookEndpoint, change: str) -> None:
    """A receiver of the clinic's events added, switched or removed (P5): no address."""
    from bookwell.audit.models import Action
    from bookwell.audit.services import audit

    audit(
        Action.INTEGRATION_CHANGED,
        clinic_id=endpoint.clinic_id,
        extra={"what": "webhook", "change": change},
    )


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends a delivery's event again, as a new delivery last in line (same event id, so a
    receiver can tell it has seen it)."""
    payload = delivery.payload
    now = timezone.now()
    return WebhookDelivery.objects.create(
        clinic_id=delivery.clinic_id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event=delivery.event,
        payload=payload,
        next_attempt_at=now,
    )


# --- Delivery (the worker) -----------------------------------------------------------------


def _backoff(attempts: int) -> dt.timedelta:
    # 30 s, 1 min, 2 min, 4 min ... capped at 6 hours.
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def _contact(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> dict[str, Any] | None:
    """The client's contact details, read when sent, for endpoints that asked (P13)."""
    data = (delivery.payload or {}).get("data") or {}
    client_id = data.get("client_id")
    if not endpoint.include_contact or not client_id:
        return None
    from bookwell.clients.models import Client

    client = Client.objects.filter(pk=client_id).first()
    if client is None or client.restricted:
        return None
    return {"full_name": client.full_name, "email": client.email, "phone": client.phone}


def _waits_behind_another() -> Exists:
    """True for a delivery with an earlier open one for the same endpoint (events go out in
    order, one at a time per endpoint)."""
    return Exists(
        WebhookDelivery.objects.filter(
            endpoint_id=OuterRef("endpoint_id"), status__in=OPEN, pk__lt=OuterRef("pk")
        )
    )


def _claim(delivery_id: int, now: dt.datetime) -> dt.datetime | None:
    """Takes the delivery for one attempt if it is still due, still first in its endpoint's
    line and its endpoint still on (another worker may have acted since the due list was
    read); returns the lease that marks it as this worker's."""
    lease = now + dt.timedelta(seconds=settings.WEBHOOKS_TIMEOUT * 3 + 30)
    taken = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now, endpoint__active=True
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .exclude(_waits_behind_another())
        .update(status=WebhookStatus.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    )
    return lease if taken else None


def deliver(delivery_id: int) -> str:
    """One attempt at one delivery; returns its outcome."""
    now = timezone.now()
    with platform_scope("the worker reads a delivery before its clinic is known"):
        row = WebhookDelivery.objects.filter(pk=delivery_id).only("clinic_id").first()
    if row is None:
        return "gone"
    with clinic_context(row.clinic_id):
        lease = _claim(delivery_id, now)
        if lease is None:
            return "taken"
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        endpoint = delivery.endpoint
        payload = dict(delivery.payload or {})
        contact = _contact(delivery, endpoint)
        if contact:
            payload["data"] = {**payload.get("data", {}), "contact": contact}
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Bookwell-Event": delivery.event,
            "Bookwell-Delivery": str(delivery.pk),
            "Bookwell-Event-Id": str(delivery.event_id),
            "Bookwell-Signature": signature(endpoint.secret, int(time.time()), body),
        }
        began = time.monotonic()
        status_code, error = None, ""
        try:
            status_code = post(endpoint.url, body, headers)
            if not 200 <= status_code < 300:
                error = f"http:{status_code}"
        except Refused as exc:
            error = f"refused:{exc.code}"
        except Exception as exc:  # any failure is this delivery's, recorded by class only
            error = type(exc).__name__
        duration = int((time.monotonic() - began) * 1000)
        return _record(delivery, endpoint, lease, status_code, duration, error)


def _record(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    lease: dt.datetime,
    status_code: int | None,
    duration: int,
    error: str,
) -> str:
    """Writes the attempt's outcome, if this worker still holds the delivery (a worker slower
    than its lease must not undo what another recorded since)."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status_code": status_code,
        "duration_ms": duration,
        "error_code": error[:60],
        "lease_until": None,
        "updated_at": now,
    }
    with transaction.atomic():
        if not error:
            fields.update(status=WebhookStatus.DELIVERED, delivered_at=now)
            outcome = "delivered"
        elif delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
            fields.update(status=WebhookStatus.FAILED)
            outcome = "failed"
        else:
            fields.update(
                status=WebhookStatus.PENDING, next_attempt_at=now + _backoff(delivery.attempts)
            )
            outcome = "retry"
        mine = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookStatus.SENDING, lease_until=lease
        ).update(**fields)
        if not mine:
            return "lease_lost"
        if not error:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        else:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                consecutive_failures=F("consecutive_failures") + 1
            )
            failures = (
                WebhookEndpoint.objects.filter(pk=endpoint.pk)
                .values_list("consecutive_failures", flat=True)
                .first()
                or 0
            )
            if failures >= settings.WEBHOOKS_DISABLE_AFTER and endpoint.active:
                _disable(endpoint)
    logger.info(
        "webhook attempt", extra={"delivery": delivery.pk, "code": error or str(status_code)}
    )
    return outcome


def _disable(endpoint: WebhookEndpoint) -> None:
    """Switched off after repeated failures; the clinic's owners and admins are told."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason="failures")
    endpoint_id, clinic_id = endpoint.pk, endpoint.clinic_id
    transaction.on_commit(lambda: _tell_clinic(clinic_id, endpoint_id))


def _tell_clinic(clinic_id: int, endpoint_id: object) -> None:
    from django.template.loader import render_to_string
    from django.urls import reverse

    from bookwell.core.mail import send_now_or_log
    from bookwell.tenancy.models import Clinic, Membership
    from bookwell.tenancy.permissions import Role

    with clinic_context(clinic_id):
        clinic = Clinic.objects.get(pk=clinic_id)
        emails = list(
            Membership.objects.filter(role__in=[Role.OWNER, Role.ADMIN]).values_list(
                "user__email", flat=True
            )
        )
    link = settings.BASE_URL + reverse("integrations:webhooks", kwargs={"clinic_slug": clinic.slug})
    body = render_to_string("integrations/webhook_disabled.txt", {"clinic": clinic, "link": link})
    for address in emails:
        send_now_or_log(
            subject=_("A webhook of %(clinic)s was switched off") % {"clinic": clinic.name},
            body=body,
            to=address,
            kind="webhook_disabled",
        )


def dispatch_due(*, limit: int = 50) -> dict[str, int]:
    """Sends the due deliveries: per endpoint only its oldest open one (events arrive in
    order), and none to an endpoint that is switched off."""
    now = timezone.now()
    counts: dict[str, int] = {}
    with platform_scope("worker looks for due webhook deliveries"):
        due = list(
            WebhookDelivery.objects.filter(
                status__in=OPEN, next_attempt_at__lte=now, endpoint__active=True
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .exclude(_waits_behind_another())
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
    for delivery_id in due:
        outcome = deliver(delivery_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
