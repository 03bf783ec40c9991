"""Cached calendar grids are never stale: the database raises the clinic's calendar stamp with
every change the grid shows, whatever made the change (bookings.grid_cache, migration 0010).

These tests commit (transactional database): on PostgreSQL the stamp is raised at commit.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookwell.bookings import grid_cache
from bookwell.bookings.models import Appointment, CalendarStamp, Status
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_set_status
from bookwell.clients.models import Client as ClientRecord
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import Service, StaffMember, TimeOff, WorkingHours
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import Setup, schedule
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 4, 8, 0, tzinfo=dt.UTC)
DAY = dt.date(2031, 3, 6)


def _at(hour: int) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=BERLIN)


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    s = schedule(clinic_a)
    with clinic_context(clinic_a):
        WorkingHours.objects.create(
            clinic=clinic_a,
            staff=s.staff,
            location=s.location,
            weekday=DAY.weekday(),
            start_min=9 * 60,
            end_min=17 * 60,
        )
    return s


@pytest.fixture
def desk(clinic_a, setup, member_client):
    _, client = member_client(clinic_a, Role.FRONT_DESK)
    return client


def _grid(desk, clinic) -> str:
    url = reverse("bookings:calendar", kwargs={"clinic_slug": clinic.slug})
    response = desk.get(url, {"date": DAY.isoformat()}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def _version(clinic) -> int:
    return CalendarStamp.objects.get(clinic=clinic).version


def test_a_new_clinic_has_a_stamp_and_a_repeated_draw_comes_from_the_cache(clinic_a, desk):
    fresh = Clinic.objects.get(pk=ClinicFactory(slug="fresh").pk)
    assert CalendarStamp.objects.filter(clinic=fresh).exists()
    _grid(desk, clinic_a)
    with CaptureQueriesContext(connection) as first:
        _grid(desk, clinic_a)
    with CaptureQueriesContext(connection) as again:
        _grid(desk, clinic_a)
    # Cached: the stamp is read, the appointments are not.
    assert len(first.captured_queries) == len(again.captured_queries)
    assert not any("bookings_appointment" in q["sql"] for q in again.captured_queries)
    # Three statements in all: the session, its user, and the memberships with their clinics
    # and calendar versions (read first, before anything the grid shows).
    sqls = [q["sql"] for q in again.captured_queries]
    assert len(sqls) == 3, sqls
    stamp_reads = [sql for sql in sqls if "bookings_calendarstamp" in sql]
    assert len(stamp_reads) == 1 and "tenancy_membership" in stamp_reads[0]


def test_a_clinic_object_without_a_version_read_asks_the_database(clinic_a, setup):
    clinic = Clinic.objects.get(pk=clinic_a.pk)
    with CaptureQueriesContext(connection) as queries:
        assert grid_cache.calendar_version(clinic) == _version(clinic_a)
    assert len(queries.captured_queries) == 2  # its own read, and the test's


def test_every_change_the_grid_shows_is_drawn_at_once(clinic_a, setup, desk):
    with clinic_context(clinic_a):
        client = client_create(clinic=clinic_a, data=ClientInput(full_name="Ada Early"))
    assert "Ada Early" not in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # a booking (insert)
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=_at(10), client=client
            ),
        )
    assert "Ada Early" in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # a client renamed through the model (sealed field)
        record = ClientRecord.objects.get(pk=client.pk)
        record.full_name = "Ada Later"
        record.save()
    assert "Ada Later" in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # a bulk update, which sends no signal
        Service.objects.filter(pk=setup.service.pk).update(name="Renamed Service")
    assert "Renamed Service" in _grid(desk, clinic_a)

    # Raw SQL from outside the ORM (a console, another program).
    with clinic_context(clinic_a), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduling_staffmember SET display_name = %s WHERE id = %s",
            ["Dr Raw Update", setup.staff.pk],
        )
    assert "Dr Raw Update" in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # a status change
        appointment_set_status(
            appointment=Appointment.objects.get(pk=appointment.pk), status=Status.CHECKED_IN
        )
    assert "st-checked_in" in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # time off (a table the grid reads besides appointments)
        TimeOff.objects.create(
            clinic=clinic_a,
            staff=setup.staff,
            start=_at(15),
            end=_at(16),
            category="other",
        )
    assert "Time off" in _grid(desk, clinic_a)

    with clinic_context(clinic_a):  # a delete
        Appointment.objects.filter(pk=appointment.pk).delete()
    assert "Ada Later" not in _grid(desk, clinic_a)


def test_one_transaction_raises_the_stamp_once_and_only_for_its_clinic(clinic_a, clinic_b, setup):
    before_a, before_b = _version(clinic_a), _version(clinic_b)
    with transaction.atomic(), clinic_context(clinic_a):
        for n in range(3):
            StaffMember.objects.create(clinic=clinic_a, display_name=f"New {n}")
    after_a = _version(clinic_a)
    assert after_a > before_a
    if connection.vendor == "postgresql":  # deferred to the commit, once per transaction
        assert after_a == before_a + 1
    assert _version(clinic_b) == before_b


def test_inside_a_transaction_the_cache_is_not_used(clinic_a, setup):
    assert grid_cache.calendar_version(clinic_a) is not None
    with transaction.atomic():
        # A page drawn after its own write: on PostgreSQL that write is stamped at commit.
        assert grid_cache.calendar_version(clinic_a) is None


def test_the_stamp_triggers_survive_every_migration():
    """SQLite drops triggers when a migration rebuilds a table; they are recreated after
    migrate. Every watched table has its trigger(s) on both databases."""
    from bookwell.bookings import stamp_triggers

    found = stamp_triggers.present(connection)
    if connection.vendor == "sqlite":
        assert found == set(stamp_triggers.sqlite_trigger_names())
    else:
        assert found == set(stamp_triggers.WATCHED)


# --- The whole page (grid_cache.cached_page) -------------------------------------------------


def _page(client, clinic):
    url = reverse("bookings:calendar", kwargs={"clinic_slug": clinic.slug})
    response = client.get(url, {"date": DAY.isoformat()})
    assert response.status_code == 200
    return response


def test_a_cached_page_is_the_page_drawn_afresh(clinic_a, setup, desk, clock, settings):
    """Whatever the page shows depends only on what its cache key holds: served from the
    cache a while later, it equals the page drawn afresh then (CSRF tokens aside, which are
    masked anew on every response)."""

    _page(desk, clinic_a)
    clock.shift(90)
    cached = _page(desk, clinic_a)
    assert cached.templates == []
    settings.CALENDAR_CACHE_SECONDS = 0
    fresh = _page(desk, clinic_a)
    assert "bookings/calendar.html" in [t.name for t in fresh.templates]

    def mask(response) -> str:
        html = response.content.decode()
        tokens = set(_csrf_in(html))
        assert len(tokens) == 1
        return html.replace(tokens.pop(), "TOKEN")

    assert mask(cached) == mask(fresh)
    # And stray parameters in the address make no new page.
    url = reverse("bookings:calendar", kwargs={"clinic_slug": clinic_a.slug})
    settings.CALENDAR_CACHE_SECONDS = 300
    assert desk.get(url, {"date": DAY.isoformat(), "utm": "x"}).templates == []


def _csrf_in(html: str) -> list[str]:
    import re

    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)


def test_a_repeated_page_comes_from_the_cache_with_this_requests_csrf_token(
    clinic_a, setup, member_client
):
    import time

    from django.test import Client as HttpClient

    from bookwell.accounts.session import AUTH_AT_KEY

    user, _ = member_client(clinic_a, Role.FRONT_DESK)
    desk = HttpClient(enforce_csrf_checks=True)
    desk.force_login(user)
    session = desk.session
    session[AUTH_AT_KEY] = int(time.time())
    session.save()
    first = _page(desk, clinic_a)
    assert "bookings/calendar.html" in [t.name for t in first.templates]
    again = _page(desk, clinic_a)
    assert again.templates == []  # nothing was rendered: the page came from the cache
    html = again.content.decode()
    assert grid_cache._CSRF_SLOT not in html
    tokens = _csrf_in(html)
    assert tokens and tokens[0] != _csrf_in(first.content.decode())[0]  # masked afresh
    assert f'"X-CSRFToken": "{tokens[0]}"' in html
    # The token written into the cached page is this session's: signing out with it works.
    out = desk.post(reverse("accounts:signout"), {"csrfmiddlewaretoken": tokens[0]})
    assert out.status_code == 302


def test_a_cached_page_shows_each_viewer_their_own_shell(clinic_a, clinic_b, setup, member_client):
    ada, ada_client = member_client(clinic_a, Role.FRONT_DESK)
    bea, bea_client = member_client(clinic_a, Role.PRACTITIONER)
    ada.full_name, bea.full_name = "Ada Desk", "Bea Practitioner"
    ada.save(update_fields=["full_name"])
    bea.save(update_fields=["full_name"])
    _page(ada_client, clinic_a)
    html = _page(ada_client, clinic_a).content.decode()
    assert "Ada Desk" in html and "Bea Practitioner" not in html
    html = _page(bea_client, clinic_a).content.decode()
    assert "Bea Practitioner" in html and "Ada Desk" not in html

    ada.full_name = "Ada Renamed"  # her own name, in the header
    ada.save(update_fields=["full_name"])
    assert "Ada Renamed" in _page(ada_client, clinic_a).content.decode()

    Clinic.objects.filter(pk=clinic_a.pk).update(name="Clinic Renamed")  # the clinic's name
    assert "Clinic Renamed" in _page(ada_client, clinic_a).content.decode()

    with clinic_context(clinic_b):  # a clinic joined since: in the switcher
        from bookwell.tenancy.models import Membership

        Membership.objects.create(clinic=clinic_b, user=ada, role=Role.FRONT_DESK)
    assert clinic_b.name in _page(ada_client, clinic_a).content.decode()


def test_waiting_messages_are_shown_on_a_page_the_cache_holds(clinic_a, setup, desk):
    from django.contrib import messages
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import MessageEncoder

    _page(desk, clinic_a)
    assert _page(desk, clinic_a).templates == []
    session = desk.session
    session["_messages"] = MessageEncoder().encode([Message(messages.SUCCESS, "Queued note")])
    session.save()
    assert "Queued note" in _page(desk, clinic_a).content.decode()
    assert "Queued note" not in _page(desk, clinic_a).content.decode()  # shown once
