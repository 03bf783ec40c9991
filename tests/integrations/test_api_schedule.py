"""Hours, date overrides, time off and closures through the API change what is bookable."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.bookings.factories import schedule
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)
DAY = "2031-03-05"  # a Wednesday (weekday 2)


def _json(response, status=200):
    assert response.status_code == status, response.content
    return json.loads(response.content) if response.content else None


def _times(api, setup):
    got = _json(
        api.get(
            "/availability",
            {"service": setup.service.pk, "start": DAY, "end": DAY, "staff": setup.staff.pk},
        )
    )
    return [t["start"] for t in got["times"]]


def test_schedule_changes_show_in_availability(clinic_a, clock):
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a)
    api = ApiClient(token_for(clinic_a, ["schedule:write", "appointments:read"]))
    assert _times(api, setup) == []

    week = {
        "hours": [{"location": setup.location.pk, "weekday": 2, "start_min": 540, "end_min": 660}]
    }
    assert len(_json(api.put(f"/staff/{setup.staff.pk}/hours", week))) == 1
    times = _times(api, setup)
    assert times and times[0].startswith("2031-03-05T08:00:00")  # 09:00 in Berlin

    # Overlapping intervals are refused and the week stays as it was.
    bad = {"hours": week["hours"] * 2}
    assert api.put(f"/staff/{setup.staff.pk}/hours", bad).status_code == 422
    assert _times(api, setup) == times

    override = _json(
        api.put(
            f"/staff/{setup.staff.pk}/overrides/{DAY}",
            {"location": setup.location.pk, "intervals": [[600, 660]]},
        )
    )
    assert _times(api, setup)[0].startswith("2031-03-05T09:00:00")
    assert api.delete(f"/overrides/{override['id']}").status_code == 204
    assert _times(api, setup) == times

    off = _json(
        api.post(
            "/time-off",
            {
                "staff": setup.staff.pk,
                "start": "2031-03-05T07:00:00Z",
                "end": "2031-03-05T12:00:00Z",
                "category": "sick",
            },
        ),
        201,
    )
    assert _times(api, setup) == []
    api.delete(f"/time-off/{off['id']}")
    assert _times(api, setup) == times

    closure = _json(api.post("/closures", {"first_day": DAY, "last_day": DAY}), 201)
    assert _times(api, setup) == []
    listed = _json(api.get("/closures", {"start": DAY}))["items"]
    assert [c["id"] for c in listed] == [closure["id"]]
    assert api.post("/closures", {"first_day": DAY, "last_day": "2031-03-01"}).status_code == 422
