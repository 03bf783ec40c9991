"""Confirmations, reminders and cancellations through a real SMTP server; their invitations
parse and carry the right instants across a DST change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bookwell.bookings.services import BookingRequest, appointment_book, appointment_cancel
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import services
from bookwell.notifications.models import ReminderRule
from tests.bookings.factories import schedule
from tests.notifications.smtp_sink import smtp_mailers, smtp_sink

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 27, 12, 0, tzinfo=dt.UTC)
# DST starts on Sunday 30 March 2031 at 02:00: a Sunday 09:00 appointment is 07:00 UTC, while
# the booking (and the day-before reminder, Saturday 09:00 = 08:00 UTC) are in winter time.
APPOINTMENT = dt.datetime(2031, 3, 30, 9, 0, tzinfo=BERLIN)


def _event(message):
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    return part, event


def test_confirmation_reminder_and_cancellation_reach_a_real_smtp_server(clinic_a, clock, settings):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=24 * 60)
        client = client_create(
            clinic=clinic_a, data=ClientInput(full_name="Ida Smtp", email="ida@example.test")
        )
    with smtp_sink() as (sink, port):
        settings.MAILERS = smtp_mailers(port)
        with clinic_context(clinic_a):
            appointment = appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service, staff=setup.staff, start=APPOINTMENT, client=client
                ),
            )
        assert services.dispatch_due() == {"sent": 1}

        # "One day before" is 09:00 on the clinic's clock the day before, not 24 hours
        # (which would be 08:00 that winter morning).
        clock.move_to(dt.datetime(2031, 3, 29, 8, 30, tzinfo=BERLIN))
        services.reminders_scan()
        assert services.dispatch_due() == {}
        clock.move_to(dt.datetime(2031, 3, 29, 9, 0, tzinfo=BERLIN))
        assert services.dispatch_due() == {"sent": 1}

        with clinic_context(clinic_a):
            appointment_cancel(appointment=appointment, by_client=False)
        assert services.dispatch_due() == {"sent": 1}

    confirmation, reminder, cancellation = sink.messages
    assert [m["To"] for m in sink.messages] == ["ida@example.test"] * 3
    assert "09:00" in confirmation["Subject"] and "Reminder" in reminder["Subject"]
    assert "cancelled" in cancellation["Subject"]
    for message in sink.messages:  # text and HTML parts
        kinds = {p.get_content_type() for p in message.walk()}
        assert {"text/plain", "text/html", "text/calendar"} <= kinds

    part, event = _event(confirmation)
    assert part.get_param("method") == "REQUEST"
    assert event.decoded("dtstart").astimezone(dt.UTC) == dt.datetime(
        2031, 3, 30, 7, 0, tzinfo=dt.UTC
    )
    _part, reminded = _event(reminder)
    assert reminded.decoded("dtstart") == event.decoded("dtstart")  # the same instant
    assert event.decoded("dtstart").utcoffset() == dt.timedelta(hours=2)  # summer time
    part, cancelled = _event(cancellation)
    assert part.get_param("method") == "CANCEL"
    assert str(cancelled["uid"]) == str(event["uid"])
    assert str(cancelled["status"]) == "CANCELLED"
