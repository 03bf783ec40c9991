"""The notifications outbox: what is recorded with each event, what is sent, what is skipped
and why, retries, and reminders on the clinic's clock around DST (P12, P17)."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.core import mail
from django.db import connection

from bookwell.bookings.models import Appointment
from bookwell.bookings.services import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from bookwell.clients.models import Client
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications import channels, services
from bookwell.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    ReminderRule,
    SkipReason,
)
from tests.bookings.factories import Setup, schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)  # the clock: Thursday 09:00 in Berlin


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    return schedule(clinic_a)


def _client(clinic, **fields) -> Client:
    data = {"full_name": "Ada Lovelace", "email": "ada@example.test", **fields}
    with clinic_context(clinic):
        return client_create(clinic=clinic, data=ClientInput(**data))


def _book(setup: Setup, client: Client | None, start: dt.datetime) -> Appointment:
    with clinic_context(setup.clinic):
        return appointment_book(
            clinic=setup.clinic,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start, client=client
            ),
        )


def _deliveries(clinic, **filters) -> list[Delivery]:
    with clinic_context(clinic):
        return list(Delivery.objects.filter(**filters).order_by("created_at", "kind"))


def test_a_booking_records_its_confirmation_and_the_worker_sends_it(clinic_a, setup):
    client = _client(clinic_a)
    appointment = _book(setup, client, _at(dt.date(2031, 3, 25), 10))

    [delivery] = _deliveries(clinic_a)
    assert (delivery.kind, delivery.channel, delivery.status) == (
        Kind.CONFIRMATION,
        Channel.EMAIL,
        DeliveryStatus.PENDING,
    )

    assert services.dispatch_due() == {"sent": 1}

    [message] = mail.outbox
    assert message.to == ["ada@example.test"]
    assert "Ada Lovelace" in message.body and "Massage" in message.body
    assert message.extra_headers["Message-ID"] == f"<{delivery.pk}@bookwell>"
    [(_name, ics, mimetype)] = message.attachments
    assert "method=REQUEST" in mimetype
    [event] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert event.decoded("dtstart") == appointment.start
    [done] = _deliveries(clinic_a)
    assert done.status == DeliveryStatus.SENT and done.sent_at is not None
    assert done.lease_until is None
    # Sent once: nothing is due any more.
    assert services.dispatch_due() == {}


def test_german_clients_get_german_text_and_dates(clinic_a, setup):
    client = _client(clinic_a, preferred_language="de")
    _book(setup, client, _at(dt.date(2031, 3, 25), 10))
    services.dispatch_due()
    [message] = mail.outbox
    assert message.subject == "Ihr Termin am 25. März 2031 um 10:00"
    assert "Hallo Ada Lovelace" in message.body


def test_who_gets_nothing_and_why(clinic_a, setup):
    restricted = _client(clinic_a, full_name="Restricted Person", email="r@example.test")
    no_email = _client(clinic_a, full_name="No Email", email="", phone="+49 30 1234567")
    day = dt.date(2031, 3, 25)
    _book(setup, restricted, _at(day, 10))  # booked, then restricted before it is sent
    with clinic_context(clinic_a):
        Client.objects.filter(pk=restricted.pk).update(restricted=True)
    _book(setup, no_email, _at(day, 11))
    _book(setup, None, _at(day, 12))  # no client: nothing is even recorded

    assert services.dispatch_due() == {"skipped": 2}

    assert mail.outbox == []
    reasons = {d.skip_reason for d in _deliveries(clinic_a)}
    assert reasons == {SkipReason.RESTRICTED, SkipReason.NO_ADDRESS}


def test_a_move_and_a_cancellation_each_send_their_own_message(clinic_a, setup):
    client = _client(clinic_a)
    day = dt.date(2031, 3, 25)
    appointment = _book(setup, client, _at(day, 10))
    services.dispatch_due()
    with clinic_context(clinic_a):
        appointment = appointment_reschedule(
            clinic=clinic_a, appointment=appointment, start=_at(day, 14)
        )
    services.dispatch_due()
    with clinic_context(clinic_a):
        appointment_cancel(appointment=appointment, by_client=False)
    services.dispatch_due()

    kinds = {d.kind for d in _deliveries(clinic_a, status=DeliveryStatus.SENT)}
    assert kinds == {Kind.CONFIRMATION, Kind.RESCHEDULE, Kind.CANCELLATION}
    assert len(mail.outbox) == 3
    moved, cancelled = mail.outbox[1], mail.outbox[2]
    [moved_event] = icalendar.Calendar.from_ical(moved.attachments[0][1]).walk("VEVENT")
    assert moved_event.decoded("dtstart") == _at(day, 14)
    assert moved_event["sequence"] == 1
    assert "method=CANCEL" in cancelled.attachments[0][2]
    [cancel_event] = icalendar.Calendar.from_ical(cancelled.attachments[0][1]).walk("VEVENT")
    assert str(cancel_event["status"]) == "CANCELLED"
    assert str(cancel_event["uid"]) == str(moved_event["uid"])


def test_a_message_about_an_old_time_is_not_sent(clinic_a, setup):
    client = _client(clinic_a)
    day = dt.date(2031, 3, 25)
    appointment = _book(setup, client, _at(day, 10))
    with clinic_context(clinic_a):  # moved before the worker ran
        appointment_reschedule(clinic=clinic_a, appointment=appointment, start=_at(day, 15))

    services.dispatch_due()

    by_kind = {d.kind: d for d in _deliveries(clinic_a)}
    assert by_kind[Kind.CONFIRMATION].skip_reason == SkipReason.NOT_CURRENT
    assert by_kind[Kind.RESCHEDULE].status == DeliveryStatus.SENT
    [message] = mail.outbox
    assert "15:00" in message.subject


@pytest.mark.parametrize(
    ("appointment_local", "minutes", "due_local"),
    [
        # DST starts on 30 March 2031: the day before at the same time on the clock.
        ((2031, 3, 30, 10, 0), 24 * 60, (2031, 3, 29, 10, 0)),
        # Two hours before is two real hours, across the jump (03:30 CEST - 2 h = 00:30 CET).
        ((2031, 3, 30, 3, 30), 120, (2031, 3, 30, 0, 30)),
        # DST ends on 26 October 2031.
        ((2031, 10, 26, 9, 0), 24 * 60, (2031, 10, 25, 9, 0)),
    ],
)
def test_reminders_fall_due_at_the_right_instant_around_dst(
    clinic_a, setup, clock, appointment_local, minutes, due_local
):
    start = dt.datetime(*appointment_local).replace(tzinfo=BERLIN)
    due = dt.datetime(*due_local).replace(tzinfo=BERLIN)
    with clinic_context(clinic_a):
        setup.service.max_advance_days = 3650
        setup.service.save()
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=minutes)
    client = _client(clinic_a)
    clock.move_to(due - dt.timedelta(days=3))
    _book(setup, client, start)
    services.dispatch_due()  # the confirmation
    mail.outbox.clear()

    clock.move_to(due - dt.timedelta(minutes=20))
    assert services.reminders_scan() == 1
    assert services.reminders_scan() == 0  # idempotent
    [reminder] = _deliveries(clinic_a, kind=Kind.REMINDER)
    assert reminder.due_at == due
    assert services.dispatch_due() == {}  # not yet

    clock.move_to(due)
    assert services.dispatch_due() == {"sent": 1}
    [message] = mail.outbox
    assert message.subject.startswith("Reminder:")
    assert f"{start:%H:%M}" in message.subject


def test_quiet_hours_move_a_reminder_out_of_the_night(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        clinic_a.quiet_start, clinic_a.quiet_end = dt.time(21, 0), dt.time(8, 0)
        clinic_a.save()
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=120)
    client = _client(clinic_a)
    day = dt.date(2031, 3, 25)
    _book(setup, client, _at(day, 9))  # 2 h before is 07:00: quiet
    with clinic_context(clinic_a):  # 06:30 is quiet, and 08:00 is too close: 21:00
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(day, 8), client=client
            ),
        )

    clock.move_to(_at(day - dt.timedelta(days=1), 20, 50))
    services.reminders_scan()
    # The 08:00 appointment: quiet time ends as it starts, so the evening before.
    dues = [d.due_at for d in _deliveries(clinic_a, kind=Kind.REMINDER)]
    assert dues == [_at(day - dt.timedelta(days=1), 21)]

    clock.move_to(_at(day, 7, 40))
    services.reminders_scan()
    # The 09:00 appointment: at the end of the quiet time, 08:00.
    dues = sorted(d.due_at for d in _deliveries(clinic_a, kind=Kind.REMINDER))
    assert dues == [_at(day - dt.timedelta(days=1), 21), _at(day, 8)]


def test_a_moved_appointment_gets_a_fresh_reminder_and_the_old_one_is_void(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=120)
    client = _client(clinic_a)
    day = dt.date(2031, 3, 25)
    appointment = _book(setup, client, _at(day, 10))
    clock.move_to(_at(day, 7, 45))
    services.reminders_scan()
    with clinic_context(clinic_a):
        appointment_reschedule(clinic=clinic_a, appointment=appointment, start=_at(day, 10, 30))
    clock.move_to(_at(day, 8, 10))
    services.reminders_scan()

    reminders = _deliveries(clinic_a, kind=Kind.REMINDER)
    assert sorted(r.key for r in reminders) == ["120:0", "120:1"]
    clock.move_to(_at(day, 8, 30))
    services.dispatch_due()
    outcome = {r.key: (r.status, r.skip_reason) for r in _deliveries(clinic_a, kind=Kind.REMINDER)}
    assert outcome["120:0"] == (DeliveryStatus.SKIPPED, SkipReason.NOT_CURRENT)
    assert outcome["120:1"] == (DeliveryStatus.SENT, "")


def test_a_provider_error_is_retried_with_backoff_then_failed(clinic_a, setup, clock, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    client = _client(clinic_a)
    _book(setup, client, _at(dt.date(2031, 3, 25), 10))

    def refuse(message):
        raise channels.SendError("email:SMTPServerDisconnected")

    original = channels.send_email
    channels.send_email = refuse
    try:
        assert services.dispatch_due() == {"retry": 1}
        [delivery] = _deliveries(clinic_a)
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.error_code == "email:SMTPServerDisconnected"
        assert delivery.next_attempt_at == START + dt.timedelta(minutes=1)
        assert services.dispatch_due() == {}  # not before the backoff
        clock.shift(dt.timedelta(minutes=1))
        assert services.dispatch_due() == {"retry": 1}
        clock.shift(dt.timedelta(minutes=2))
        assert services.dispatch_due() == {"failed": 1}
    finally:
        channels.send_email = original
    [delivery] = _deliveries(clinic_a)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)

    with clinic_context(clinic_a):  # staff resend it from the notifications page
        services.delivery_resend(delivery=delivery)
    assert services.dispatch_due() == {"sent": 1}


def test_a_delivery_held_by_a_worker_is_not_taken_until_its_lease_ends(clinic_a, setup, clock):
    client = _client(clinic_a)
    _book(setup, client, _at(dt.date(2031, 3, 25), 10))
    [delivery] = _deliveries(clinic_a)
    assert services._claim(delivery.pk, START)  # a worker took it ... and died
    assert services.deliver(delivery.pk, now=START) == "taken"
    assert services.dispatch_due(now=START) == {}
    later = START + dt.timedelta(minutes=3)
    clock.move_to(later)
    assert services.dispatch_due() == {"sent": 1}
    [done] = _deliveries(clinic_a)
    assert done.attempts == 2  # the dead worker's try counts


def test_no_table_or_log_keeps_what_a_message_said(clinic_a, setup, caplog):
    """P12: the rendered text exists only on its way out."""
    sentinel = "Zanzibar-Quokka-7731"
    with clinic_context(clinic_a):
        from bookwell.notifications.models import MessageTemplate

        MessageTemplate.objects.create(
            clinic=clinic_a,
            kind=Kind.CONFIRMATION,
            channel=Channel.EMAIL,
            language="en",
            subject="Booked for {client_name} on {date}",
            body="{client_name}, " + "{service}",
        )
        setup.service.name = f"Massage {sentinel}"
        setup.service.save()
    client = _client(clinic_a)
    _book(setup, client, _at(dt.date(2031, 3, 25), 10))
    with caplog.at_level(logging.DEBUG):
        services.dispatch_due()
    [message] = mail.outbox
    rendered = str(message.body)
    subject = str(message.subject)
    assert sentinel in rendered and "Ada Lovelace" in rendered
    assert subject.startswith("Booked for Ada Lovelace on ")

    assert rendered not in caplog.text and "Ada Lovelace" not in caplog.text
    assert subject not in caplog.text
    with platform_scope("test: scan every table"), connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                text = " ".join(str(v) for v in row)
                assert rendered not in text, table
                assert "Ada Lovelace, Massage" not in text, table
                assert subject not in text and "Booked for Ada" not in text, table


def test_a_reminder_no_worker_recorded_in_time_shows_as_too_late(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=24 * 60)
    client = _client(clinic_a)
    appointment = _book(setup, client, _at(dt.date(2031, 3, 25), 10))

    clock.move_to(_at(dt.date(2031, 3, 25), 11))  # every worker was down until after it began
    assert services.reminders_scan() == 1
    services.dispatch_due()
    [reminder] = _deliveries(clinic_a, kind=Kind.REMINDER)
    assert reminder.appointment_id == appointment.pk
    assert (reminder.status, reminder.skip_reason) == (
        DeliveryStatus.SKIPPED,
        SkipReason.TOO_LATE,
    )


def test_a_booking_made_after_its_reminder_time_gets_no_separate_reminder(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=24 * 60)
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=120)
    client = _client(clinic_a)
    # Booked at 09:00 for 13:00 the same day: the day-before reminder's time has passed.
    _book(setup, client, START + dt.timedelta(hours=4))

    assert services.reminders_scan() == 0
    clock.move_to(START + dt.timedelta(hours=2))  # 2 h before: that one is due
    assert services.reminders_scan() == 1
    [reminder] = _deliveries(clinic_a, kind=Kind.REMINDER)
    assert reminder.key.startswith("120:")


def test_the_reminder_scan_uses_a_fixed_number_of_queries(
    clinic_a, clinic_b, setup, clock, django_assert_num_queries
):
    other = schedule(clinic_b)
    for clinic, s in ((clinic_a, setup), (clinic_b, other)):
        with clinic_context(clinic):
            ReminderRule.objects.create(clinic=clinic, minutes_before=120)
            ReminderRule.objects.create(clinic=clinic, minutes_before=24 * 60)
        for hour in (10, 11, 12):
            client = _client(clinic, email=f"c{hour}@example.test")
            _book(s, client, _at(dt.date(2031, 3, 21), hour))
    clock.move_to(_at(dt.date(2031, 3, 20), 11, 45))  # the day-before reminders fall due
    # The rules, a read per distinct offset (two here), one write for all.
    with django_assert_num_queries(4):
        assert services.reminders_scan() == 6


def test_a_move_into_the_reminder_window_gets_its_move_message_not_an_instant_reminder(
    clinic_a, setup, clock
):
    with clinic_context(clinic_a):
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=24 * 60)
    client = _client(clinic_a)
    appointment = _book(setup, client, _at(dt.date(2031, 3, 28), 10))  # booked well ahead
    clock.move_to(_at(dt.date(2031, 3, 25), 9))
    with clinic_context(clinic_a):  # moved to tomorrow morning: inside the day-before window
        appointment_reschedule(
            clinic=clinic_a, appointment=appointment, start=_at(dt.date(2031, 3, 26), 8)
        )
    assert services.reminders_scan() == 0
    kinds = sorted(d.kind for d in _deliveries(clinic_a))
    assert kinds == [Kind.CONFIRMATION, Kind.RESCHEDULE]
