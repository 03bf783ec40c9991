"""iCalendar (RFC 5545) for one appointment: what a client adds to their own calendar."""

from __future__ import annotations

import datetime as dt

from bookwell.bookings.models import Appointment, Status
from bookwell.tenancy.models import Clinic


def _text(value: str) -> str:
    """Escapes a TEXT value (backslash, semicolon, comma, newlines)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start = [], 0
    limit = 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a UTF-8 character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def appointment_ics(*, appointment: Appointment, clinic: Clinic, manage_url: str) -> str:
    cancelled = appointment.status in (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)
    location = appointment.room.location if appointment.room else None
    where = ", ".join(p for p in (clinic.name, location.address if location else "") if p)
    description = f"With {appointment.staff.display_name}. Change or cancel: {manage_url}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Bookwell//Booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.pk}@bookwell",
        f"DTSTAMP:{_utc(appointment.updated_at)}",
        f"DTSTART:{_utc(appointment.start)}",
        f"DTEND:{_utc(appointment.end)}",
        f"SUMMARY:{_text(f'{appointment.service.name} · {clinic.name}')}",
        f"LOCATION:{_text(where)}",
        f"DESCRIPTION:{_text(description)}",
        f"URL:{manage_url}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "SEQUENCE:" + str(int(appointment.updated_at.timestamp()) // 60 % 100000),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
