"""Clients' manage links: an unguessable token in a URL, of which only a hash is stored.

The token is an HMAC (SHA-256, 256 bits) of the record's id and a random salt under a key
derived from the server's secret. The database keeps the salt and the token's SHA-256, never
the token: someone who reads the database cannot open a link, yet the server can put the same
link in a later reminder. A new salt revokes the link. Changing SECRET_KEY revokes every link.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from django.utils import timezone
from django.utils.crypto import salted_hmac

from bookwell.bookings.models import Appointment, Status, WaitlistEntry, WaitlistStatus
from bookwell.core.tokens import token_hash

_PURPOSE = "bookwell.manage-link"
# A link stays usable until a while after the appointment ends (to look it up, get the .ics).
GRACE_AFTER_END = dt.timedelta(hours=1)

Linked = Appointment | WaitlistEntry


def _kind(record: Linked) -> str:
    return "appointment" if isinstance(record, Appointment) else "waitlist"


def token_for(record: Linked) -> str:
    """The record's current token (empty when it never had a link)."""
    if not record.manage_salt:
        return ""
    mac = salted_hmac(
        _PURPOSE, f"{_kind(record)}:{record.pk}:{record.manage_salt}", algorithm="sha256"
    )
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def issue(record: Linked) -> str:
    """Gives the record a link (a new one, revoking any earlier) and returns its token."""
    record.manage_salt = secrets.token_hex(16)
    token = token_for(record)
    record.manage_token_hash = token_hash(token)
    record.save(update_fields=["manage_salt", "manage_token_hash"])
    return token


def _plausible(token: str) -> bool:
    return 40 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def appointment_by_token(token: str) -> Appointment | None:
    """The appointment a token opens in the active clinic, or None (wrong, revoked, expired)."""
    if not _plausible(token):
        return None
    appointment = (
        Appointment.objects.select_related("service", "staff", "room", "room__location", "client")
        .filter(manage_token_hash=token_hash(token))
        .first()
    )
    if appointment is None or not link_is_open(appointment):
        return None
    return appointment


def link_is_open(appointment: Appointment) -> bool:
    """A link stops working after the appointment (and at once if it is cancelled and past)."""
    return appointment.end + GRACE_AFTER_END > timezone.now()


def waitlist_entry_by_token(token: str) -> WaitlistEntry | None:
    if not _plausible(token):
        return None
    entry = (
        WaitlistEntry.objects.select_related("service", "staff", "client")
        .filter(manage_token_hash=token_hash(token))
        .first()
    )
    if entry is None:
        return None
    today = timezone.localdate()
    if entry.status in (WaitlistStatus.WITHDRAWN, WaitlistStatus.BOOKED) and entry.last_day < today:
        return None
    if entry.last_day < today - dt.timedelta(days=1):
        return None
    return entry


def is_upcoming(appointment: Appointment) -> bool:
    return appointment.status in (Status.PENDING, Status.CONFIRMED) and (
        appointment.start > timezone.now()
    )
