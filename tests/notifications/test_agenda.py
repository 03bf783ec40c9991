"""The staff's daily agenda: recorded once per person and day at the clinic's agenda time
(clinic clock), sent to the staff member's own sign-in address, clients by initials only."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from bookwell.bookings.models import Appointment
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_cancel
from bookwell.clients.models import Client
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import services
from bookwell.notifications.models import Delivery, DeliveryStatus, Kind, SkipReason
from bookwell.scheduling.models import StaffMember
from bookwell.tenancy.models import Membership
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import Setup, schedule
from tests.factories import make_member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 19, 18, 0, tzinfo=dt.UTC)  # Wednesday evening in Berlin
DAY = dt.date(2031, 3, 20)  # Thursday


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    s = schedule(clinic_a)
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.agenda_at = dt.time(7, 0)
    clinic_a.save()
    user = make_member(clinic_a, Role.PRACTITIONER, email="dr.one@example.test")
    with clinic_context(clinic_a):
        StaffMember.objects.filter(pk=s.staff.pk).update(user=user)  # Dr. One signs in
    return s


def _book(setup: Setup, start: dt.datetime, name: str = "Ada Lovelace", staff=None):
    with clinic_context(setup.clinic):
        client = client_create(clinic=setup.clinic, data=ClientInput(full_name=name))
        return appointment_book(
            clinic=setup.clinic,
            request=BookingRequest(
                service=setup.service, staff=staff or setup.staff, start=start, client=client
            ),
            notify=False,
        )


def _agendas(clinic) -> list[Delivery]:
    with clinic_context(clinic):
        return list(Delivery.objects.filter(kind=Kind.AGENDA).order_by("created_at"))


def test_the_agenda_is_recorded_once_at_the_clinics_time_and_sent_with_initials(
    clinic_a, setup, clock
):
    _book(setup, _at(DAY, 9))
    _book(setup, _at(DAY, 11, 30), name="Grace Brewster Hopper")
    _book(setup, _at(DAY, 10), staff=setup.other_staff)  # Dr. Two has no sign-in: no agenda
    _book(setup, _at(DAY + dt.timedelta(days=1), 9))  # tomorrow's is not in today's agenda

    clock.move_to(_at(DAY, 6, 59))
    assert services.agenda_scan() == 0  # not yet: 07:00 on the clinic's clock
    clock.move_to(_at(DAY, 7, 0))
    assert services.agenda_scan() == 1
    assert services.agenda_scan() == 0  # once per person and day
    [agenda] = _agendas(clinic_a)
    assert (agenda.staff_id, agenda.key) == (setup.staff.pk, DAY.isoformat())

    assert services.dispatch_due() == {"sent": 1}
    [email] = mail.outbox
    assert email.to == ["dr.one@example.test"]
    assert email.subject.endswith(": 2")  # two appointments that day
    assert "09:00-09:30 · Massage · A. L." in email.body
    assert "11:30-12:00 · Massage · G. B. H." in email.body
    assert "Lovelace" not in email.body and "Grace" not in email.body  # initials only (P13)
    assert "10:00" not in email.body  # Dr. Two's appointment
    assert _agendas(clinic_a)[0].status == DeliveryStatus.SENT


def test_the_agenda_follows_the_day_as_it_is_when_sent(clinic_a, setup, clock):
    kept = _book(setup, _at(DAY, 9))
    restricted = _book(setup, _at(DAY, 14), name="Quiet Person")
    with clinic_context(clinic_a):
        Client.objects.filter(pk=restricted.client_id).update(restricted=True)
    clock.move_to(_at(DAY, 7, 5))
    services.agenda_scan()
    with clinic_context(clinic_a):
        appointment_cancel(appointment=Appointment.objects.get(pk=kept.pk), by_client=False)

    services.dispatch_due()
    [email] = mail.outbox
    assert "09:00" not in email.body  # cancelled since the agenda was recorded
    assert "14:00-14:30 · Massage" in email.body
    assert "Q. P." not in email.body  # a restricted client is not named at all (P17)


def test_no_agenda_when_switched_off_and_a_late_one_shows_as_too_late(clinic_a, setup, clock):
    _book(setup, _at(DAY, 9))
    clinic_a.agenda_at = None
    clinic_a.save()
    clock.move_to(_at(DAY, 7, 0))
    assert services.agenda_scan() == 0  # switched off

    clinic_a.agenda_at = dt.time(7, 0)
    clinic_a.save()
    clock.move_to(_at(DAY, 10, 30))
    # No worker ran all morning: recorded now, and shown as too late (never just missing).
    assert services.agenda_scan() == 1
    services.dispatch_due()
    [late] = _agendas(clinic_a)
    assert (late.status, late.skip_reason) == (DeliveryStatus.SKIPPED, SkipReason.TOO_LATE)
    assert mail.outbox == []


def test_no_agenda_for_a_member_who_left(clinic_a, setup, clock):
    _book(setup, _at(DAY, 9))
    clock.move_to(_at(DAY, 9, 30))
    assert services.agenda_scan() == 1
    with clinic_context(clinic_a):
        Membership.objects.filter(user__email="dr.one@example.test").delete()
    services.dispatch_due()
    [agenda] = _agendas(clinic_a)
    assert (agenda.status, agenda.skip_reason) == (DeliveryStatus.SKIPPED, SkipReason.NO_ADDRESS)
    assert mail.outbox == []


def test_the_agenda_scan_uses_a_fixed_number_of_queries(
    clinic_a, clinic_b, setup, clock, django_assert_num_queries
):
    clinic_b.time_zone, clinic_b.agenda_at = "Europe/Berlin", dt.time(7, 0)
    clinic_b.save()
    other = schedule(clinic_b)
    user_b = make_member(clinic_b, Role.PRACTITIONER)
    with clinic_context(clinic_b):
        StaffMember.objects.filter(pk=other.staff.pk).update(user=user_b)
    for hour in (9, 10, 11):
        _book(setup, _at(DAY, hour))
        _book(other, _at(DAY, hour))
    clock.move_to(_at(DAY, 7, 0))
    with django_assert_num_queries(4):
        assert services.agenda_scan() == 2


def test_a_booking_made_after_the_agenda_time_is_not_a_missed_agenda(clinic_a, setup, clock):
    clock.move_to(_at(DAY, 14, 0))  # booked in the afternoon, for the afternoon
    _book(setup, _at(DAY, 16))
    assert services.agenda_scan() == 0
    assert _agendas(clinic_a) == []


def test_an_appointment_moved_into_the_day_after_the_agenda_time_is_not_a_missed_agenda(
    clinic_a, setup, clock
):
    from bookwell.bookings.services import appointment_reschedule

    booked = _book(setup, _at(DAY + dt.timedelta(days=5), 10))  # booked the evening before
    clock.move_to(_at(DAY, 14, 0))
    with clinic_context(clinic_a):
        appointment_reschedule(clinic=clinic_a, appointment=booked, start=_at(DAY, 16))
    assert services.agenda_scan() == 0
    assert _agendas(clinic_a) == []
