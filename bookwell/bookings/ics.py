"""iCalendar (RFC 5545) for one appointment, built with the icalendar package.

The same event serves the client's download (METHOD:PUBLISH) and the invitations attached to
emails (REQUEST when booked or moved, CANCEL when cancelled). The UID is stable per
appointment and SEQUENCE rises with each move, so calendars replace the older copy. Times are
written on the clinic's clock with its VTIMEZONE, which fixes the instant across DST.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone

from bookwell.bookings.models import Appointment, Status
from bookwell.tenancy.models import Clinic

CANCELLED = (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)


def appointment_ics(
    *, appointment: Appointment, clinic: Clinic, manage_url: str, method: str = "PUBLISH"
) -> str:
    zone = ZoneInfo(clinic.time_zone)
    cancelled = appointment.status in CANCELLED or method == "CANCEL"
    location = appointment.room.location if appointment.room else None
    where = ", ".join(p for p in (clinic.name, location.address if location else "") if p)

    cal = Calendar()
    cal.add("prodid", "-//Bookwell//Booking//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", f"{appointment.pk}@bookwell")
    event.add("dtstamp", dt.datetime.now(dt.UTC))
    event.add("dtstart", appointment.start.astimezone(zone))
    event.add("dtend", appointment.end.astimezone(zone))
    event.add("summary", f"{appointment.service.name} · {clinic.name}")
    if where:
        event.add("location", where)
    description = _("With %(staff)s.") % {"staff": appointment.staff.display_name}
    if manage_url and not cancelled:
        description += " " + _("Change or cancel: %(link)s") % {"link": manage_url}
        event.add("url", manage_url)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", appointment.sequence)
    if method in ("REQUEST", "CANCEL") and clinic.contact_email:
        event.add("organizer", f"mailto:{clinic.contact_email}", parameters={"CN": clinic.name})
    cal.add_component(vtimezone(clinic.time_zone, appointment.start.year))
    cal.add_component(event)
    return cal.to_ical().decode()


@lru_cache(maxsize=64)
def vtimezone(tzid: str, year: int) -> Timezone:
    """The zone's rules around the appointment's year (a whole 1970-2038 history would make
    every invitation long and slow to build); cached, the same for every message."""
    return Timezone.from_tzid(
        tzid, first_date=dt.date(year - 1, 1, 1), last_date=dt.date(year + 2, 1, 1)
    )
