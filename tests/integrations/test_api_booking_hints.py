"""What an API booking spares itself, and that it decides nothing less for it.

It names its service and staff member. The rows this process read last are confirmed in
availability's round trip instead of read in one of their own first
(core.access.hinted_in_clinic): a booking is decided only on rows that came back unchanged,
so whatever changed since (even by an UPDATE that stamps nothing) is booked or refused as it
is now, and a clinic never starts from another's rows. And it opens no savepoint of its own
(the operation's error answers roll back everything anyway)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookwell.bookings.models import Appointment
from bookwell.core.access import Hint, StaleHint, forget_hints, hinted_in_clinic
from bookwell.core.context import clinic_context
from bookwell.core.db.statements import Rider
from bookwell.scheduling.models import Service, StaffMember
from tests.bookings.factories import Setup, schedule, works_every_day
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

DAY = "2031-03-05"  # a Wednesday


def _at(hour: int) -> str:
    return f"{DAY}T{hour:02d}:00:00Z"


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    s = schedule(clinic_a)
    works_every_day(s, start_min=7 * 60, end_min=20 * 60)
    return s


@pytest.fixture
def api(clinic_a) -> ApiClient:
    return ApiClient(token_for(clinic_a))


def _book(api: ApiClient, setup: Setup, hour: int):
    return api.post(
        "/appointments", {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(hour)}
    )


def _made(response) -> dict:
    assert response.status_code == 201, response.content
    return json.loads(response.content)


def _round_trips(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_a_second_booking_confirms_the_rows_in_availabilitys_round_trip(setup, api):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite sends one statement at a time: no round trips to count")
    _made(_book(api, setup, 8))  # (the clinic's first booking makes its data key too)
    forget_hints()
    with CaptureQueriesContext(connection) as first:
        _made(_book(api, setup, 10))
    with CaptureQueriesContext(connection) as second:
        _made(_book(api, setup, 12))
    service_read = 'FROM "scheduling_service" WHERE "id" = %s'
    # The first booking reads the service and staff member in a round trip of their own...
    alone = [sql for sql in _round_trips(first) if service_read in sql]
    assert len(alone) == 1 and "FOR NO KEY UPDATE" not in alone[0]
    # ...the second reads them again with the lock and availability's reads, one round trip
    # fewer in all.
    (together,) = [sql for sql in _round_trips(second) if service_read in sql]
    assert "FOR NO KEY UPDATE" in together and '"bookings_appointment" a' in together
    assert len(_round_trips(second)) == len(_round_trips(first)) - 1


def test_a_service_changed_since_is_booked_as_it_is_now(setup, api):
    _made(_book(api, setup, 8))  # the rows are kept
    with clinic_context(setup.clinic):  # an UPDATE that stamps nothing (no updated_at)
        Service.objects.filter(pk=setup.service.pk).update(duration_min=45)
    made = _made(_book(api, setup, 10))
    took = dt.datetime.fromisoformat(made["end"]) - dt.datetime.fromisoformat(made["start"])
    assert took == dt.timedelta(minutes=45)
    again = _made(_book(api, setup, 12))  # and the fresh rows are the ones kept now
    took = dt.datetime.fromisoformat(again["end"]) - dt.datetime.fromisoformat(again["start"])
    assert took == dt.timedelta(minutes=45)


def test_a_staff_member_archived_since_is_refused_as_a_fresh_read_would_refuse(setup, api):
    _made(_book(api, setup, 8))
    with clinic_context(setup.clinic):
        StaffMember.objects.filter(pk=setup.staff.pk).update(archived=True)
    refused = _book(api, setup, 10)
    forget_hints()
    fresh = _book(api, setup, 10)
    assert 400 <= refused.status_code < 500 and refused.status_code == fresh.status_code
    assert json.loads(refused.content)["code"] == json.loads(fresh.content)["code"]
    with clinic_context(setup.clinic):
        assert Appointment.objects.count() == 1


def test_a_service_made_a_class_since_books_a_seat(setup, api):
    _made(_book(api, setup, 8))
    with clinic_context(setup.clinic):
        Service.objects.filter(pk=setup.service.pk).update(capacity=3)
    _made(_book(api, setup, 10))
    _made(_book(api, setup, 10))  # a second seat of the same class
    with clinic_context(setup.clinic):
        seats = Appointment.objects.filter(start=dt.datetime(2031, 3, 5, 10, tzinfo=dt.UTC))
        assert seats.count() == 2 and all(a.group_seat for a in seats)


def test_another_clinic_never_starts_from_these_rows(setup, api, clinic_b):
    _made(_book(api, setup, 8))
    other = ApiClient(token_for(clinic_b))
    assert _book(other, setup, 10).status_code == 404  # clinic A's ids, named by clinic B
    with clinic_context(clinic_b):
        assert hinted_in_clinic((Service, setup.service.pk)) is None
    with clinic_context(setup.clinic):
        assert Appointment.objects.count() == 1
        assert hinted_in_clinic((Service, setup.service.pk)) is not None


def test_a_hint_is_stale_unless_its_read_came_back_unchanged(setup, api):
    _made(_book(api, setup, 8))
    with clinic_context(setup.clinic):
        hint = hinted_in_clinic((Service, setup.service.pk))
    assert isinstance(hint, Hint) and hint.instances[0].pk == setup.service.pk
    with pytest.raises(StaleHint):
        hint.check()  # never read again: not confirmed
    (rider,) = hint.riders
    rider.rows, rider.done = [hint.expected[0]], True
    hint.check()  # came back as it was
    changed = list(hint.expected[0])
    changed[[f.attname for f in Service._meta.concrete_fields].index("duration_min")] = 45
    stale = Hint(hint.instances, [Rider(rider.sql, rider.params)], hint.expected, hint.keys)
    stale.riders[0].rows, stale.riders[0].done = [tuple(changed)], True
    with pytest.raises(StaleHint):
        stale.check()
    with clinic_context(setup.clinic):  # and a stale row is forgotten
        assert hinted_in_clinic((Service, setup.service.pk)) is None


# --- No savepoint of its own ----------------------------------------------------------------
# An API operation's error answers roll back its whole transaction, so its booking opens no
# savepoint (whose row locks PostgreSQL would track as a subtransaction's): any failure marks
# the whole transaction instead, and a stale hint, raised before anything is written, marks
# nothing.


def _savepoints(queries: CaptureQueriesContext) -> int:
    return sum(
        sql.count("SAVEPOINT ") - sql.count("RELEASE SAVEPOINT ") for sql in _round_trips(queries)
    )


def test_an_api_booking_opens_no_savepoint_of_its_own(setup, api):
    _made(_book(api, setup, 8))
    with CaptureQueriesContext(connection) as plain:
        _made(_book(api, setup, 10))
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(12)}
    with CaptureQueriesContext(connection) as keyed:  # a key keeps its savepoint
        _made(api.post("/appointments", body, **{"Idempotency-Key": "k-1"}))
    assert _savepoints(plain) == _savepoints(keyed) - 1


def test_a_time_taken_under_the_check_is_409_and_leaves_nothing(setup, api, monkeypatch):
    """The database's exclusion constraint refuses what got past the check (a race): the
    answer is the usual 409, and nothing of the request stays, counts included."""
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    from bookwell.bookings import services
    from bookwell.tenancy.models import PlanUsage

    made = _made(_book(api, setup, 8))
    with clinic_context(setup.clinic):
        counted = sorted(PlanUsage.objects.values_list("allowance", "used"))
    monkeypatch.setattr(services, "_offered_rooms", lambda *args, **kwargs: set())  # "free"
    taken = _book(api, setup, 8)
    assert taken.status_code == 409 and json.loads(taken.content)["code"] == "slot_taken"
    with clinic_context(setup.clinic):
        assert [str(pk) for pk in Appointment.objects.values_list("id", flat=True)] == [made["id"]]
        assert sorted(PlanUsage.objects.values_list("allowance", "used")) == counted


@pytest.mark.parametrize("named", ["room", "client"])
def test_a_booking_naming_a_room_or_a_client_is_refused_as_a_fresh_read_would_refuse(
    setup, api, named
):
    """A room or a client is read first anyway and checked against the service and staff
    member: those are read with it, never taken from the rows kept."""
    from bookwell.clients.models import Client
    from bookwell.clients.services import ClientInput, client_create

    _made(_book(api, setup, 8))  # the service and staff member are kept
    with clinic_context(setup.clinic):
        client = client_create(clinic=setup.clinic, data=ClientInput(full_name="Ada Test"))
        # (Restricted: checked before the service's rows would be confirmed, so a kept row
        # would answer client_restricted where the fresh one answers not_bookable.)
        Client.objects.filter(pk=client.pk).update(restricted=True)
        Service.objects.filter(pk=setup.service.pk).update(archived=True)
    body = {
        "service": setup.service.pk,
        "staff": setup.staff.pk,
        "start": _at(10),
        named: setup.room.pk if named == "room" else str(client.pk),
    }
    kept = api.post("/appointments", body)
    forget_hints()
    fresh = api.post("/appointments", body)
    assert 400 <= kept.status_code < 500 and kept.status_code == fresh.status_code
    assert json.loads(kept.content)["code"] == json.loads(fresh.content)["code"]


def test_only_a_clinics_configuration_is_kept_never_a_clients_record(setup, api):
    from bookwell.clients.models import Client
    from bookwell.clients.services import ClientInput, client_create

    with clinic_context(setup.clinic):
        client = client_create(clinic=setup.clinic, data=ClientInput(full_name="Ada Test"))
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(10)}
    _made(api.post("/appointments", {**body, "client": str(client.pk)}))
    with clinic_context(setup.clinic):
        assert hinted_in_clinic((Service, setup.service.pk)) is not None
        assert hinted_in_clinic((StaffMember, setup.staff.pk)) is not None
        assert hinted_in_clinic((Client, client.pk)) is None


def test_the_rows_kept_are_bounded(setup, monkeypatch):
    from bookwell.core import access

    monkeypatch.setattr(access, "_HINTS_KEPT", 3)
    with clinic_context(setup.clinic):
        for pk in (setup.staff.pk, setup.other_staff.pk):
            access.access_all_in_clinic((StaffMember, pk), keep=(StaffMember,))
        access.access_all_in_clinic((Service, setup.service.pk), keep=(Service,))
        assert len(access._HINTS) == 3
        extra = StaffMember.objects.create(clinic=setup.clinic, display_name="Dr. Three")
        access.access_all_in_clinic((StaffMember, extra.pk), keep=(StaffMember,))
        assert len(access._HINTS) == 3  # the oldest went
        assert hinted_in_clinic((StaffMember, setup.staff.pk)) is None
        assert hinted_in_clinic((StaffMember, extra.pk)) is not None
