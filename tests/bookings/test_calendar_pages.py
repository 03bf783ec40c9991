"""The front desk's calendar: booking a walk-in from the grid, the appointment panel (move,
status, cancel with a reason, note), recurring bookings, the waitlist, and a fixed number of
queries for a busy week."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookwell.bookings.models import Appointment, RecurringSeries, Status, WaitlistEntry
from bookwell.bookings.selectors import calendar_load
from bookwell.bookings.services import (
    BookingRequest,
    appointment_book,
    appointment_reschedule,
)
from bookwell.clients.models import Client as ClientRecord
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.core.errors import ServiceError
from bookwell.scheduling.models import DateOverride, Room, Service, StaffMember, WorkingHours
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import Setup, schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 4, 8, 0, tzinfo=dt.UTC)  # Tuesday, 09:00 in Berlin
DAY = dt.date(2031, 3, 6)  # Thursday


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    s = schedule(clinic_a, cancel_notice_min=24 * 60)
    with clinic_context(clinic_a):
        for staff in (s.staff, s.other_staff):
            for weekday in range(5):
                WorkingHours.objects.create(
                    clinic=clinic_a,
                    staff=staff,
                    location=s.location,
                    weekday=weekday,
                    start_min=9 * 60,
                    end_min=17 * 60,
                )
    return s


@pytest.fixture
def desk(clinic_a, member_client):
    _, client = member_client(clinic_a, Role.FRONT_DESK)
    return client


def _url(name: str, clinic, **kwargs) -> str:
    return reverse(f"bookings:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def _appointments(clinic) -> list[Appointment]:
    with clinic_context(clinic):
        return list(Appointment.objects.order_by("start"))


def _walk_in(setup: Setup, **extra):
    return {
        "staff": setup.staff.pk,
        "service": setup.service.pk,
        "date": DAY.isoformat(),
        "time": "10:00",
        "new_client_name": "Walk In Person",
        "new_client_phone": "+49 30 1234567",
        **extra,
    }


def test_front_desk_books_a_walk_in_moves_it_and_marks_it_arrived_and_completed(
    clinic_a, setup, desk
):
    form = desk.get(
        _url("new", clinic_a),
        {"staff": setup.staff.pk, "date": DAY.isoformat(), "minute": 600},
        HTTP_HX_REQUEST="true",
    )
    assert form.status_code == 200
    assert 'value="10:00"' in form.content.decode()

    booked = desk.post(_url("new", clinic_a), _walk_in(setup), HTTP_HX_REQUEST="true")

    assert booked.status_code == 200
    assert booked["HX-Trigger"] == "bookwell:changed"  # the other screens refresh
    [appointment] = _appointments(clinic_a)
    assert appointment.start == _at(DAY, 10)
    assert appointment.source == "staff"
    with clinic_context(clinic_a):
        assert appointment.client.full_name == "Walk In Person"
    assert "Walk In Person" in booked.content.decode()

    grid = desk.get(_url("calendar", clinic_a), {"date": DAY.isoformat()})
    html = grid.content.decode()
    assert "Walk In Person" in html
    # 10:00 is the 9th quarter hour after the grid's 08:00 start: row 9, two rows long.
    assert re.search(r'class="appt svc-\d+ st-confirmed gr-9 gs-2 l1-0"', html)

    moved = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk),
        {"date": DAY.isoformat(), "time": "14:30"},
        HTTP_HX_REQUEST="true",
    )
    assert moved.status_code == 200
    [appointment] = _appointments(clinic_a)
    assert appointment.start == _at(DAY, 14, 30)

    for status in ("checked_in", "completed"):
        response = desk.post(
            _url("status", clinic_a, appointment_id=appointment.pk),
            {"status": status},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
    [appointment] = _appointments(clinic_a)
    assert appointment.status == Status.COMPLETED


def test_without_javascript_the_panel_opens_beside_the_grid(clinic_a, setup, desk):
    booked = desk.post(_url("new", clinic_a), _walk_in(setup))
    assert booked.status_code == 302
    page = desk.get(booked["Location"])
    html = page.content.decode()
    assert 'id="grid"' in html and 'id="panel-appointment"' in html


def test_a_taken_time_gives_the_clear_message_and_writes_nothing(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 10)),
        )

    response = desk.post(_url("new", clinic_a), _walk_in(setup), HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    html = response.content.decode()
    assert "This time was just taken" in html
    # And what that staff member still has free that day, to choose from at once.
    free = re.search(r"Still free that day: ([0-9:, ]+)<", html)
    assert free is not None
    times = free.group(1).split(", ")
    assert "09:00" in times and "10:00" not in times and "10:30" not in times
    assert "10:45" in times  # after the 10:00 booking and its 10 minutes of clearing up
    assert len(_appointments(clinic_a)) == 1
    with clinic_context(clinic_a):
        assert ClientRecord.objects.count() == 0  # the quick-created client rolled back


def test_a_taken_walk_in_today_lists_times_within_the_online_notice(clinic_a, setup, desk):
    """The desk is not held to the notice clients are: the next free times today count."""
    today = dt.date(2031, 3, 4)  # the clock stands at 09:00 that day
    with clinic_context(clinic_a):
        Service.objects.filter(pk=setup.service.pk).update(min_notice_min=120)
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(today, 10)),
        )
    response = desk.post(
        _url("new", clinic_a),
        _walk_in(setup, date=today.isoformat(), time="10:00"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    free = re.search(r"Still free that day: ([0-9:, ]+)<", response.content.decode())
    assert free is not None
    times = free.group(1).split(", ")
    assert times[0] == "09:00" and "09:15" in times and "10:00" not in times


def test_an_existing_client_is_chosen_from_the_search(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        known = client_create(clinic=clinic_a, data=ClientInput(full_name="Greta Known"))

    found = desk.get(_url("client-lookup", clinic_a), {"q": "gre"})
    assert str(known.pk) in found.content.decode()

    data = _walk_in(setup, client=str(known.pk), new_client_name="")
    response = desk.post(_url("new", clinic_a), data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    [appointment] = _appointments(clinic_a)
    assert appointment.client_id == known.pk


def test_bad_input_shows_field_errors_and_writes_nothing(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        not_theirs = Service.objects.create(clinic=clinic_a, name="Other", duration_min=30)

    missing = desk.post(_url("new", clinic_a), _walk_in(setup, new_client_name=""))
    wrong = desk.post(_url("new", clinic_a), _walk_in(setup, service=not_theirs.pk))
    gap = desk.post(_url("new", clinic_a), _walk_in(setup, date="2031-03-30", time="02:30"))

    assert missing.status_code == 400
    assert "enter a new client" in missing.content.decode()
    assert wrong.status_code == 400
    assert "does not perform this service" in wrong.content.decode()
    assert gap.status_code == 400
    assert "does not exist on that day" in gap.content.decode()
    assert _appointments(clinic_a) == []


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01"])
def test_the_ends_of_the_calendar_are_a_form_error_not_a_crash(clinic_a, setup, desk, date):
    booked = desk.post(_url("new", clinic_a), _walk_in(setup, date=date))
    shown = desk.get(_url("calendar", clinic_a), {"date": date, "view": "week"})
    panel = desk.get(_url("new", clinic_a), {"date": date})

    assert booked.status_code == 400
    assert "Choose a date between 1970 and 2199." in booked.content.decode()
    assert _appointments(clinic_a) == []
    assert shown.status_code == 200 and panel.status_code == 200  # today instead


def test_cancelling_for_the_client_inside_the_window_needs_an_exception_reason(
    clinic_a, setup, desk
):
    with clinic_context(clinic_a):
        soon = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=_at(dt.date(2031, 3, 4), 15)
            ),
        )
    url = _url("cancel", clinic_a, appointment_id=soon.pk)

    refused = desk.post(url, {"who": "client", "reason": "client_request"})
    assert refused.status_code == 400
    assert "choose the reason for the exception" in refused.content.decode()
    assert _appointments(clinic_a)[0].status == Status.CONFIRMED

    done = desk.post(url, {"who": "client", "reason": "illness", "override_reason": "illness"})
    assert done.status_code == 302
    [appointment] = _appointments(clinic_a)
    assert appointment.status == Status.CANCELLED_BY_CLIENT
    assert appointment.cancel_reason == "illness"
    assert appointment.override_reason == "illness"


def test_the_note_is_kept_encrypted(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 9)),
        )

    desk.post(_url("note", clinic_a, appointment_id=appointment.pk), {"note": "Left knee pain."})

    [stored] = _appointments(clinic_a)
    with clinic_context(clinic_a):
        assert stored.note == "Left knee pain."
    with clinic_context(clinic_a), connection.cursor() as cursor:  # RLS: the clinic's rows
        cursor.execute("SELECT note FROM bookings_appointment")
        raw = cursor.fetchone()[0]
    assert "knee" not in raw and raw.startswith("bw1.")


def test_a_weekly_series_is_previewed_then_the_free_times_booked(clinic_a, setup, desk):
    with clinic_context(clinic_a):  # the second week is taken
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=_at(DAY + dt.timedelta(7), 10)
            ),
        )
    data = _walk_in(setup, repeat="1", count="3")

    preview = desk.post(_url("new", clinic_a), data, HTTP_HX_REQUEST="true")
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "2 of these times are free" in html
    assert html.count("not free") == 1
    assert len(_appointments(clinic_a)) == 1  # nothing booked by the preview

    booked = desk.post(_url("new", clinic_a), {**data, "confirm": "rest"}, HTTP_HX_REQUEST="true")
    assert booked.status_code == 200
    with clinic_context(clinic_a):
        series = RecurringSeries.objects.get()
        starts = sorted(a.start for a in Appointment.objects.filter(series=series))
    assert starts == [_at(DAY, 10), _at(DAY + dt.timedelta(14), 10)]


def test_the_waitlist_from_the_calendar(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        person = client_create(clinic=clinic_a, data=ClientInput(full_name="Wanda Wait"))

    added = desk.post(
        _url("waitlist-add", clinic_a),
        {
            "client": str(person.pk),
            "service": setup.service.pk,
            "first_day": "2031-03-05",
            "last_day": "2031-03-12",
        },
    )
    assert added.status_code == 302
    page = desk.get(_url("waitlist", clinic_a))
    assert "Wanda Wait" in page.content.decode()
    with clinic_context(clinic_a):
        entry = WaitlistEntry.objects.get()

    desk.post(_url("waitlist-remove", clinic_a, entry_id=entry.pk))

    with clinic_context(clinic_a):
        assert WaitlistEntry.objects.get().status == "withdrawn"
    assert "Wanda Wait" not in desk.get(_url("waitlist", clinic_a)).content.decode()


def test_a_read_only_member_sees_the_calendar_but_cannot_book(clinic_a, setup, member_client):
    _, viewer = member_client(clinic_a, Role.READ_ONLY)

    seen = viewer.get(_url("calendar", clinic_a))
    refused = viewer.post(_url("new", clinic_a), _walk_in(setup))

    assert seen.status_code == 200
    assert "New appointment" not in seen.content.decode()
    assert refused.status_code == 403
    assert _appointments(clinic_a) == []


def _busy_clinic(clinic, staff_count: int, per_staff_per_day: int) -> None:
    s = schedule(clinic)
    with clinic_context(clinic):
        members = [s.staff, s.other_staff] + [
            StaffMember.objects.create(clinic=clinic, display_name=f"Staff {i}")
            for i in range(staff_count - 2)
        ]
        s.service.staff.set(members, through_defaults={"clinic": clinic})
        for member in members:
            for weekday in range(5):
                WorkingHours.objects.create(
                    clinic=clinic,
                    staff=member,
                    location=s.location,
                    weekday=weekday,
                    start_min=8 * 60,
                    end_min=20 * 60,
                )
            for day in range(5):
                for k in range(per_staff_per_day):
                    client = client_create(clinic=clinic, data=ClientInput(full_name=f"C {k}"))
                    appointment_book(
                        clinic=clinic,
                        request=BookingRequest(
                            service=s.service,
                            staff=member,
                            client=client,
                            start=_at(dt.date(2031, 3, 10) + dt.timedelta(day), 8 + k),
                        ),
                    )


def _queries(client, clinic, params) -> tuple[int, str]:
    client.get(_url("calendar", clinic), params)  # the session's refresh is not counted
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(_url("calendar", clinic), params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2031-03-12"},
        {"date": "2031-03-12", "by": "room"},
        {"date": "2031-03-12", "view": "week"},
    ],
)
def test_the_calendar_uses_a_fixed_number_of_queries(clinic_a, clinic_b, member_client, params):
    _busy_clinic(clinic_a, staff_count=2, per_staff_per_day=1)
    _busy_clinic(clinic_b, staff_count=20, per_staff_per_day=6)  # 20 staff, 600 a week
    _, a_desk = member_client(clinic_a, Role.FRONT_DESK)
    _, b_desk = member_client(clinic_b, Role.FRONT_DESK)
    with clinic_context(clinic_b):
        assert Appointment.objects.count() == 600

    small, _ = _queries(a_desk, clinic_a, params)
    big, html = _queries(b_desk, clinic_b, params)

    assert big == small
    if "view" not in params and "by" not in params:
        assert html.count('class="appt ') == 120  # the day's appointments, all drawn
    if params.get("view") == "week":
        assert html.count('class="appt ') == 30  # one staff member's week, all drawn


def test_the_client_page_shows_appointments_and_books_for_that_client(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        person = client_create(clinic=clinic_a, data=ClientInput(full_name="Clara Client"))
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=_at(DAY, 11), client=person
            ),
        )
    page = desk.get(
        reverse("clients:detail", kwargs={"clinic_slug": clinic_a.slug, "client_id": person.pk})
    )
    html = page.content.decode()
    assert "Thu 6 Mar 2031, 11:00" in html and "upcoming" in html
    book_link = f"/c/{clinic_a.slug}/appointments/new/?client={person.pk}"
    assert book_link in html

    form = desk.get(book_link).content.decode()
    assert f'value="{person.pk}" checked' in form


def test_the_grid_escapes_what_people_typed(clinic_a, setup, desk):
    """The grid's columns are drawn in Python (bookings.grid), not by the template engine:
    names with markup in them must still come out as text."""
    with clinic_context(clinic_a):
        client = client_create(
            clinic=clinic_a, data=ClientInput(full_name='<img src=x onerror="alert(1)">')
        )
        Service.objects.filter(pk=setup.service.pk).update(name="Massage & <b>more</b>")
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=Service.objects.get(pk=setup.service.pk),
                staff=setup.staff,
                start=_at(DAY, 11),
                client=client,
            ),
        )
        no_client = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(DAY, 12)
            ),
        )

    html = desk.get(_url("calendar", clinic_a), {"date": DAY.isoformat()}).content.decode()

    assert "<img" not in html and "<b>more" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "Massage &amp; &lt;b&gt;more&lt;/b&gt;" in html
    assert f"{no_client.pk}/" in html and "No client" in html


def test_moving_gives_the_appointment_to_another_staff_member(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 10)),
        )
        lonely = StaffMember.objects.create(clinic=clinic_a, display_name="Not Trained")
        busy = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(DAY, 15)
            ),
        )
    panel = desk.get(_url("appointment", clinic_a, appointment_id=appointment.pk))
    assert f'<option value="{setup.other_staff.pk}"' in panel.content.decode()
    assert f'<option value="{lonely.pk}"' not in panel.content.decode()

    moved = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk),
        {"date": DAY.isoformat(), "time": "11:00", "staff": setup.other_staff.pk},
        HTTP_HX_REQUEST="true",
    )

    assert moved.status_code == 200
    with clinic_context(clinic_a):
        appointment.refresh_from_db()
    assert (appointment.staff_id, appointment.start) == (setup.other_staff.pk, _at(DAY, 11))

    # Someone who does not offer the service is not a choice; nothing changes.
    refused = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk),
        {"date": DAY.isoformat(), "time": "11:00", "staff": lonely.pk},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    # A staff member already busy then: the clear message, nothing changes.
    taken = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk),
        {"date": DAY.isoformat(), "time": "15:00", "staff": setup.other_staff.pk},
        HTTP_HX_REQUEST="true",
    )
    assert taken.status_code == 409
    assert "This time was just taken" in taken.content.decode()
    with clinic_context(clinic_a):
        appointment.refresh_from_db()
        busy.refresh_from_db()
    assert (appointment.staff_id, appointment.start) == (setup.other_staff.pk, _at(DAY, 11))
    assert busy.start == _at(DAY, 15)


def test_only_the_clinic_gives_an_appointment_to_someone_else(clinic_a, clinic_b, setup):
    from bookwell.bookings.services import appointment_reschedule
    from bookwell.core.errors import ServiceError

    with clinic_context(clinic_a):
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 10)),
        )
        with pytest.raises(ServiceError) as by_client:
            appointment_reschedule(
                clinic=clinic_a,
                appointment=appointment,
                start=_at(DAY, 11),
                by_client=True,
                staff=setup.other_staff,
            )
    assert by_client.value.code == "wrong_staff"
    with clinic_context(clinic_b):
        stranger = StaffMember.objects.create(clinic=clinic_b, display_name="Elsewhere")
    with clinic_context(clinic_a), pytest.raises(ServiceError) as foreign:
        appointment_reschedule(
            clinic=clinic_a, appointment=appointment, start=_at(DAY, 11), staff=stranger
        )
    assert foreign.value.code == "foreign_object"
    with clinic_context(clinic_a):
        appointment.refresh_from_db()
    assert (appointment.staff_id, appointment.start) == (setup.staff.pk, _at(DAY, 10))


def test_appointments_of_archived_or_unbookable_staff_stay_on_the_calendar(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        theirs = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(DAY, 10)
            ),
        )
        mine = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 11)),
        )
        StaffMember.objects.filter(pk=setup.other_staff.pk).update(archived=True)
        StaffMember.objects.filter(pk=setup.staff.pk).update(bookable=False)
        that_day = calendar_load(clinic=clinic_a, first=DAY, days=1)
        next_day = calendar_load(clinic=clinic_a, first=DAY + dt.timedelta(days=1), days=1)

    entries = {c.staff_id: [e.appointment.pk for e in c.entries] for c in that_day.columns}
    assert entries == {setup.other_staff.pk: [theirs.pk], setup.staff.pk: [mine.pk]}
    assert next_day.columns == []  # nothing booked: neither takes a column any more

    # Their heading opens their week, which lists them although archived.
    day_page = desk.get(_url("calendar", clinic_a), {"date": DAY.isoformat()}).content.decode()
    week_link = f"?date={DAY.isoformat()}&amp;view=week&amp;staff={setup.other_staff.pk}"
    assert f'<a href="{week_link}">' in day_page
    week_page = desk.get(
        _url("calendar", clinic_a),
        {"date": DAY.isoformat(), "view": "week", "staff": setup.other_staff.pk},
    ).content.decode()
    assert f'<option value="{setup.other_staff.pk}" selected' in week_page
    assert week_page.count('class="appt ') == 1


def test_a_week_shows_one_persons_appointments_and_hours(clinic_a, setup):
    with clinic_context(clinic_a):
        DateOverride.objects.create(
            clinic=clinic_a,
            staff=setup.other_staff,
            location=setup.location,
            date=DAY,
            intervals=[[18 * 60, 22 * 60]],
        )
        late = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(DAY, 20)
            ),
        )
        mine = calendar_load(clinic=clinic_a, first=DAY, days=7, staff_id=setup.staff.pk)
        theirs = calendar_load(clinic=clinic_a, first=DAY, days=7, staff_id=setup.other_staff.pk)

    assert [e.appointment.pk for c in theirs.columns for e in c.entries] == [late.pk]
    assert [e for c in mine.columns for e in c.entries] == []
    assert mine.labels[-1][1] == "17:00"  # the usual frame: another's evening is not drawn
    assert theirs.labels[-1][1] == "21:00"


def test_booking_from_a_rooms_column_books_into_that_room(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        second = Room.objects.create(
            clinic=clinic_a, location=setup.location, name="Room 2", capacity=1
        )
        setup.service.rooms.set([setup.room, second], through_defaults={"clinic": clinic_a})
        elsewhere = Service.objects.create(clinic=clinic_a, name="Talk", duration_min=30)
        elsewhere.staff.set([setup.staff], through_defaults={"clinic": clinic_a})

    grid = desk.get(_url("calendar", clinic_a), {"date": DAY.isoformat(), "by": "room"})
    panel = desk.get(_url("new", clinic_a), {"date": DAY.isoformat(), "room": second.pk})
    booked = desk.post(_url("new", clinic_a), _walk_in(setup, room=second.pk))
    no_room = desk.post(
        _url("new", clinic_a), _walk_in(setup, service=elsewhere.pk, room=second.pk)
    )

    assert f'data-room="{second.pk}"' in grid.content.decode()
    assert re.search(rf'<option value="{second.pk}" selected>', panel.content.decode())
    assert booked.status_code in (200, 302)
    assert no_room.status_code == 409  # refused by the booking service, shown in the panel
    assert "cannot take place in that room" in no_room.content.decode()
    [appointment] = _appointments(clinic_a)
    assert appointment.room_id == second.pk  # not the first free room, the one chosen


def test_moving_into_another_room_the_service_uses(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        second = Room.objects.create(
            clinic=clinic_a, location=setup.location, name="Room 2", capacity=1
        )
        elsewhere = Room.objects.create(
            clinic=clinic_a, location=setup.location, name="Storage", capacity=1
        )
        setup.service.rooms.set([setup.room, second], through_defaults={"clinic": clinic_a})
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(DAY, 10)),
        )
        other = appointment_book(  # Room 2 is busy at 12:00
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.other_staff, start=_at(DAY, 12), room=second
            ),
        )
    assert appointment.room_id == setup.room.pk and other.room_id == second.pk
    panel = desk.get(_url("appointment", clinic_a, appointment_id=appointment.pk)).content
    assert f'<option value="{second.pk}"'.encode() in panel
    assert f'<option value="{elsewhere.pk}"'.encode() not in panel  # not one it uses

    same_time = {"date": DAY.isoformat(), "time": "10:00", "staff": setup.staff.pk}
    moved = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk), {**same_time, "room": second.pk}
    )
    assert moved.status_code in (200, 302)
    with clinic_context(clinic_a):
        appointment.refresh_from_db()
    assert (appointment.room_id, appointment.start, appointment.sequence) == (
        second.pk,
        _at(DAY, 10),
        1,  # calendars are told of the change
    )

    busy = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk),
        {**same_time, "time": "12:00", "room": second.pk},
    )
    wrong = desk.post(
        _url("move", clinic_a, appointment_id=appointment.pk), {**same_time, "room": elsewhere.pk}
    )
    assert busy.status_code == 409 and "This time was just taken" in busy.content.decode()
    assert wrong.status_code == 400
    with clinic_context(clinic_a):
        appointment.refresh_from_db()
        assert appointment.room_id == second.pk and appointment.start == _at(DAY, 10)
        with pytest.raises(ServiceError):  # clients do not choose rooms
            appointment_reschedule(
                clinic=clinic_a,
                appointment=appointment,
                start=_at(DAY, 10),
                by_client=True,
                room=setup.room,
            )
