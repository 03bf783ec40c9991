"""Appointments through the API: find a time, book it (idempotently), list, move, cancel,
change status — the same services and checks as the staff app."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bookwell.bookings.models import Appointment, Source
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import WorkingHours
from tests.bookings.factories import Setup, schedule
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Berlin
DAY = dt.date(2031, 3, 5)  # Wednesday
AT = "2031-03-05T09:00:00Z"  # 10:00 in Berlin


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    s = schedule(clinic_a)
    with clinic_context(clinic_a):
        for staff in (s.staff, s.other_staff):
            for weekday in range(7):
                WorkingHours.objects.create(
                    clinic=clinic_a,
                    staff=staff,
                    location=s.location,
                    weekday=weekday,
                    start_min=8 * 60,
                    end_min=18 * 60,
                )
    return s


@pytest.fixture
def api(clinic_a) -> ApiClient:
    return ApiClient(token_for(clinic_a))


def _json(response, status=200):
    assert response.status_code == status, response.content
    return json.loads(response.content)


def test_find_a_time_and_book_it(setup, api):
    free = _json(
        api.get(
            "/availability",
            {"service": setup.service.pk, "start": DAY.isoformat(), "end": DAY.isoformat()},
        )
    )
    first = free["times"][0]
    assert setup.staff.pk in first["staff"]
    made = _json(
        api.post(
            "/appointments",
            {"service": setup.service.pk, "staff": first["staff"][0], "start": first["start"]},
        ),
        201,
    )
    assert made["status"] == "confirmed" and made["source"] == Source.API
    again = _json(
        api.get(
            "/availability",
            {
                "service": setup.service.pk,
                "start": DAY.isoformat(),
                "end": DAY.isoformat(),
                "staff": first["staff"][0],
            },
        )
    )
    assert first["start"] not in [t["start"] for t in again["times"]]
    assert _json(api.get(f"/appointments/{made['id']}"))["start"] == made["start"]


def test_the_same_idempotency_key_returns_the_same_appointment(setup, api):
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT}
    one = _json(api.post("/appointments", body, **{"Idempotency-Key": "order-1"}), 201)
    two = _json(api.post("/appointments", body, **{"Idempotency-Key": "order-1"}), 201)
    assert one["id"] == two["id"]
    other = {**body, "start": "2031-03-05T11:00:00Z"}
    clash = api.post("/appointments", other, **{"Idempotency-Key": "order-1"})
    assert clash.status_code == 409 and _json(clash, 409)["code"] == "idempotency_conflict"
    with clinic_context(setup.clinic):
        assert Appointment.objects.count() == 1


def test_a_taken_time_is_409_and_nothing_is_written(setup, api):
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT}
    _json(api.post("/appointments", body), 201)
    taken = api.post("/appointments", body)
    assert _json(taken, 409)["code"] == "slot_taken"
    # Outside working hours: availability does not offer it, so the API may not book it.
    late = api.post("/appointments", {**body, "start": "2031-03-05T20:00:00Z"})
    assert late.status_code == 409
    with clinic_context(setup.clinic):
        assert Appointment.objects.count() == 1


def test_no_preference_books_whoever_is_free(setup, api):
    body = {"service": setup.service.pk, "start": AT}
    a = _json(api.post("/appointments", body), 201)
    b = _json(api.post("/appointments", body), 201)
    assert {a["staff_id"], b["staff_id"]} == {setup.staff.pk, setup.other_staff.pk}


def test_list_filters_and_pages_through_changes(setup, api, clock):
    with clinic_context(setup.clinic):
        client = client_create(clinic=setup.clinic, data=ClientInput(full_name="Api Client"))
    ids = []
    for hour in range(8, 13):
        body = {"service": setup.service.pk, "staff": setup.staff.pk, "client": str(client.pk)}
        made = _json(
            api.post("/appointments", {**body, "start": f"2031-03-05T{hour:02d}:00:00Z"}), 201
        )
        ids.append(made["id"])
    other_day = {"service": setup.service.pk, "staff": setup.other_staff.pk}
    _json(api.post("/appointments", {**other_day, "start": "2031-03-06T09:00:00Z"}), 201)

    seen, cursor = [], None
    while True:
        params = {"start": DAY.isoformat(), "end": DAY.isoformat(), "limit": 2}
        if cursor:
            params["cursor"] = cursor
        got = _json(api.get("/appointments", params))
        seen += [a["id"] for a in got["items"]]
        cursor = got["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert len(_json(api.get("/appointments", {"client": str(client.pk)}))["items"]) == 5
    assert len(_json(api.get("/appointments", {"staff": setup.other_staff.pk}))["items"]) == 1

    # Incremental sync: only what changed since the last look.
    mark = _json(api.get(f"/appointments/{ids[0]}"))["updated_at"]
    clock.shift(dt.timedelta(minutes=5))
    changed = _json(api.post(f"/appointments/{ids[2]}/status", {"status": "checked_in"}))
    since = _json(api.get("/appointments", {"updated_since": changed["updated_at"]}))
    assert [a["id"] for a in since["items"]] == [ids[2]]
    assert len(_json(api.get("/appointments", {"updated_since": mark}))["items"]) == 6


def test_move_cancel_and_status(setup, api):
    made = _json(
        api.post(
            "/appointments", {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT}
        ),
        201,
    )
    path = f"/appointments/{made['id']}"
    moved = _json(api.post(f"{path}/reschedule", {"start": "2031-03-05T12:00:00Z"}))
    assert moved["start"].startswith("2031-03-05T12:00:00")
    bad = api.post(f"{path}/status", {"status": "cancelled_clinic"})
    assert bad.status_code == 422  # cancelling has its own operation, with a reason
    cancelled = _json(api.post(f"{path}/cancel", {"reason": "illness"}))
    assert cancelled["status"] == "cancelled_clinic" and cancelled["cancel_reason"] == "illness"
    again = api.post(f"{path}/status", {"status": "completed"})
    assert _json(again, 409)["code"] == "bad_transition"


def test_a_note_is_set_when_booking_read_on_its_own_and_kept_out_of_lists(setup, api):
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT}
    made = _json(api.post("/appointments", {**body, "note": "Wheelchair access"}), 201)
    assert made["note"] == "Wheelchair access"
    path = f"/appointments/{made['id']}"
    assert _json(api.get(path))["note"] == "Wheelchair access"
    assert "note" not in _json(api.get("/appointments"))["items"][0]
    assert _json(api.put(f"{path}/note", {"note": "  "}))["note"] == ""
    assert api.put(f"{path}/note", {"note": "x" * 2001}).status_code == 422


def test_the_same_key_with_another_note_is_a_conflict(setup, api):
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT, "note": "A"}
    _json(api.post("/appointments", body, **{"Idempotency-Key": "k-note"}), 201)
    again = api.post("/appointments", {**body, "note": "B"}, **{"Idempotency-Key": "k-note"})
    assert _json(again, 409)["code"] == "idempotency_conflict"


def test_a_weekly_series_books_the_free_dates_or_none(setup, api):
    body = {
        "service": setup.service.pk,
        "staff": setup.staff.pk,
        "first_start": "2031-03-05T09:00:00Z",
        "count": 4,
    }
    # The third date is taken: all or none by default, the free ones on request.
    _json(
        api.post(
            "/appointments",
            {"service": setup.service.pk, "staff": setup.staff.pk, "start": "2031-03-19T09:00:00Z"},
        ),
        201,
    )
    refused = api.post("/series", body)
    assert _json(refused, 409)["code"] == "slot_taken"
    with clinic_context(setup.clinic):
        assert Appointment.objects.count() == 1
    made = _json(api.post("/series", {**body, "skip_conflicts": True}), 201)
    assert len(made["appointments"]) == 3 and made["series"]["exceptions"] == ["2031-03-19"]
    series = made["series"]["id"]
    assert _json(api.get(f"/series/{series}"))["count"] == 4
    stopped = _json(api.post(f"/series/{series}/cancel", {"from_start": "2031-03-12T09:00:00Z"}))
    assert stopped == {"cancelled": 2}  # the 12th and the 26th
    assert api.post("/series", {**body, "until": "2031-04-30"}).status_code == 422
