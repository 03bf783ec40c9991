"""Staff calendar feeds: a secret URL per staff member that calendar apps subscribe to.

The token has 256 bits and only its SHA-256 is stored; a new link revokes the old one. The
feed holds the service, the times and the client's initials: enough to plan a day, not a
client list (P4).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from icalendar import Calendar, Event

from bookwell.bookings.ics import vtimezone
from bookwell.bookings.models import Appointment, Status
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.tokens import new_token, token_hash
from bookwell.notifications.models import CalendarFeed
from bookwell.scheduling.models import StaffMember
from bookwell.tenancy.models import Clinic, Membership

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=180)
SHOWN = [Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW]


def feed_issue(*, clinic: Clinic, staff: StaffMember) -> str:
    """A new feed link for the staff member (any earlier one stops working); the token."""
    token, digest = new_token()
    with transaction.atomic():
        replaced = _stop(staff)
        CalendarFeed.objects.create(clinic=clinic, staff=staff, token_hash=digest)
        _feed_audit(staff, "replaced" if replaced else "added")  # one action, one event
    return token


def feed_revoke(*, staff: StaffMember) -> None:
    with transaction.atomic():
        if _stop(staff):
            _feed_audit(staff, "removed")


def _stop(staff: StaffMember) -> int:
    return CalendarFeed.objects.filter(staff=staff, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _feed_audit(staff: StaffMember, change: str) -> None:
    """A staff member's calendar link issued or stopped (P5): the link is a key to their day."""
    from bookwell.audit.models import Action, TargetKind
    from bookwell.audit.services import audit

    audit(
        Action.INTEGRATION_CHANGED,
        clinic_id=staff.clinic_id,
        target_kind=TargetKind.STAFF,
        target_id=staff.pk,
        extra={"what": "calendar_feed", "change": change},
    )


def initials(name: str) -> str:
    parts = [p for p in name.replace("-", " ").split() if p[:1].isalpha()]
    return " ".join(f"{p[0].upper()}." for p in parts[:3])


def feed_ics(token: str) -> str | None:
    """The feed a token opens, or None (wrong or revoked)."""
    if not (20 <= len(token) <= 64) or not all(c.isalnum() or c in "-_" for c in token):
        return None
    with platform_scope("a calendar feed is looked up by its token"):
        feed = (
            CalendarFeed.objects.select_related("clinic", "staff", "staff__user")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
    if feed is None:
        return None
    # A staff member who signs in must still be an active member of the clinic (a manager
    # may also hand a link to someone who does not sign in; it stands until revoked).
    owner = feed.staff.user
    if owner is not None:
        with platform_scope("a calendar feed's owner is still an active member"):
            if (
                not owner.is_active
                or not Membership.objects.filter(clinic_id=feed.clinic_id, user=owner).exists()
            ):
                return None
    clinic = feed.clinic
    zone = ZoneInfo(clinic.time_zone)
    now = timezone.now()
    with clinic_context(clinic):
        appointments = list(
            Appointment.objects.filter(
                staff_id=feed.staff_id,
                status__in=SHOWN,
                start__gte=now - PAST,
                start__lt=now + AHEAD,
            )
            .select_related("service", "client")
            .order_by("start")
        )
        cal = Calendar()
        cal.add("prodid", "-//Bookwell//Staff feed//EN")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", f"{clinic.name} · {feed.staff.display_name}")
        for a in appointments:
            event = Event()
            event.add("uid", f"{a.pk}@bookwell")
            event.add("dtstamp", now)
            event.add("dtstart", a.start.astimezone(zone))
            event.add("dtend", a.end.astimezone(zone))
            # A restricted client (P17) is not named at all, not even by initials.
            who = initials(a.client.full_name) if a.client and not a.client.restricted else ""
            event.add("summary", f"{a.service.name} · {who}" if who else a.service.name)
            event.add("sequence", a.sequence)
            cal.add_component(event)
        cal.add_component(vtimezone(clinic.time_zone, now.year))
    return cal.to_ical().decode()
