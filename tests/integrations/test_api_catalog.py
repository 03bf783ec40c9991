"""The catalogue through the API (admin scope): a location, a room, a practitioner and a
service made from nothing can be booked; changes and archiving follow the staff app's rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)


def _json(response, status=200):
    assert response.status_code == status, response.content
    return json.loads(response.content)


def test_a_clinic_set_up_through_the_api_takes_bookings(clinic_a, clock):
    api = ApiClient(token_for(clinic_a, ["admin", "schedule:write", "appointments:write"]))
    place = _json(api.post("/locations", {"name": "Main", "time_zone": "Europe/Berlin"}), 201)
    room = _json(api.post("/rooms", {"location": place["id"], "name": "Room 1"}), 201)
    person = _json(api.post("/staff", {"display_name": "Dr. Api"}), 201)
    service = _json(
        api.post(
            "/services",
            {
                "name": "Check-up",
                "duration_min": 30,
                "min_notice_min": 0,
                "staff": [person["id"]],
                "rooms": [room["id"]],
            },
        ),
        201,
    )
    week = {
        "hours": [
            {"location": place["id"], "weekday": d, "start_min": 540, "end_min": 1020}
            for d in range(5)
        ]
    }
    _json(api.put(f"/staff/{person['id']}/hours", week))
    free = _json(
        api.get(
            "/availability", {"service": service["id"], "start": "2031-03-05", "end": "2031-03-05"}
        )
    )["times"]
    assert free and free[0]["rooms"] == [room["id"]]
    made = _json(
        api.post(
            "/appointments",
            {"service": service["id"], "staff": person["id"], "start": free[0]["start"]},
        ),
        201,
    )
    assert made["room_id"] == room["id"]

    # Changes keep what is not sent; bad values are refused field by field.
    renamed = _json(api.patch(f"/services/{service['id']}", {"name": "Check-up (long)"}))
    assert renamed["duration_min"] == 30 and renamed["name"] == "Check-up (long)"
    assert api.patch(f"/services/{service['id']}", {"duration_min": 2}).status_code == 422
    bad_zone = api.post("/locations", {"name": "Nowhere", "time_zone": "Mars/Olympus"})
    assert _json(bad_zone, 422)["errors"][0]["loc"] == ["body", "time_zone"]

    # Archived, not deleted: the appointment still names the service.
    archived = _json(api.post(f"/services/{service['id']}/archive", {"archived": True}))
    assert archived["archived"] is True
    assert _json(api.get(f"/appointments/{made['id']}"))["service_id"] == service["id"]
    refused = api.post(
        "/appointments",
        {"service": service["id"], "staff": person["id"], "start": free[1]["start"]},
    )
    assert refused.status_code == 422  # an archived service is not bookable


def test_catalogue_writes_need_the_admin_scope(clinic_a):
    api = ApiClient(token_for(clinic_a, ["schedule:write"]))
    refused = api.post("/locations", {"name": "Main", "time_zone": "Europe/Berlin"})
    assert _json(refused, 403)["scope"] == "admin"
