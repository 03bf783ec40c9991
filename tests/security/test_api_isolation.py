"""Every API operation, read from the OpenAPI document (so a new one is covered at once):

- with another clinic's ids it answers 404 and changes nothing (P1);
- with a token lacking its scope it answers 403 and changes nothing (P2).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from bookwell.api import api
from bookwell.bookings.models import Appointment, WaitlistEntry
from bookwell.bookings.recurring import series_book
from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients.models import Client as ClientRecord
from bookwell.clients.models import ConsentRecord, PrivacyNotice
from bookwell.clients.services import (
    ClientInput,
    client_create,
    consent_record,
    privacy_notice_publish,
)
from bookwell.core.context import clinic_context, platform_scope
from bookwell.integrations.scopes import IMPLIED, Scope
from bookwell.privacy.models import SubjectRequest
from bookwell.privacy.services import subject_request_record
from bookwell.scheduling.models import (
    ClinicClosure,
    DateOverride,
    Location,
    Room,
    Service,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from bookwell.tenancy.models import Clinic
from tests.bookings.factories import schedule
from tests.integrations.helpers import ApiClient, token_for
from tests.security.helpers import snapshot

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)
AT = dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC)

# A body for each operation that takes one; ids are filled in from the clinic under test.
# A new write operation fails test_every_operation_has_a_sample_body until it is listed.
BODIES: dict[str, Any] = {
    "appointment_create": lambda ids: {
        "service": ids["service"], "staff": ids["staff"], "start": "2031-03-05T11:00:00Z",
        "client": ids["client"],
    },
    "appointment_move": lambda ids: {"start": "2031-03-05T12:00:00Z", "staff": ids["staff"]},
    "appointment_cancel": lambda ids: {"reason": "illness"},
    "appointment_status": lambda ids: {"status": "checked_in"},
    "appointment_note": lambda ids: {"note": "Bring the referral letter"},
    "series_create": lambda ids: {
        "service": ids["service"], "staff": ids["staff"], "first_start": "2031-03-12T09:00:00Z",
        "count": 3,
    },
    "series_stop": lambda ids: {"from_start": "2031-03-19T09:00:00Z"},
    "client_add": lambda ids: {"full_name": "New Person", "email": "new.person@example.test"},
    "client_change": lambda ids: {"note": "Prefers mornings"},
    "hours_replace": lambda ids: {
        "hours": [{"location": ids["location"], "weekday": 0, "start_min": 540, "end_min": 600}]
    },
    "override_put": lambda ids: {"location": ids["location"], "intervals": [[540, 600]]},
    "time_off_create": lambda ids: {
        "staff": ids["staff"], "start": "2031-03-10T08:00:00Z", "end": "2031-03-10T12:00:00Z",
        "category": "training",
    },
    "waitlist_add": lambda ids: {
        "client": ids["client"], "service": ids["service"], "first_day": "2031-03-10",
        "last_day": "2031-03-20",
    },
    "waitlist_withdraw": lambda ids: {},
    "consent_add": lambda ids: {"notice": ids["notice"]},
    "location_create": lambda ids: {"name": "Annex", "time_zone": "Europe/Berlin"},
    "location_change": lambda ids: {"name": "Renamed"},
    "room_create": lambda ids: {"location": ids["location"], "name": "Room 9"},
    "room_change": lambda ids: {"name": "Room 10", "location": ids["location"]},
    "staff_create": lambda ids: {"display_name": "New Person"},
    "staff_change": lambda ids: {"display_name": "Renamed"},
    "service_create": lambda ids: {"name": "New", "duration_min": 30, "staff": [ids["staff"]]},
    "service_change": lambda ids: {"name": "Renamed", "rooms": [ids["room"]]},
    "location_archive": lambda ids: {"archived": True},
    "room_archive": lambda ids: {"archived": True},
    "staff_archive": lambda ids: {"archived": True},
    "service_archive": lambda ids: {"archived": True},
    "closure_create": lambda ids: {"first_day": "2031-12-24", "last_day": "2031-12-26"},
    "request_add": lambda ids: {"kind": "access"},
    "request_close": lambda ids: {"status": "done"},
    "client_restrict": lambda ids: {},
    "client_lift": lambda ids: {"client_told": True},
    "client_erase": lambda ids: {"confirm": True},
}  # fmt: skip


def _objects(clinic: Clinic) -> dict[str, Any]:
    s = schedule(clinic)
    with clinic_context(clinic):
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=clinic, staff=s.staff, location=s.location, weekday=weekday,
                start_min=8 * 60, end_min=18 * 60,
            )  # fmt: skip
        client = client_create(clinic=clinic, data=ClientInput(full_name="Iso Client"))
        override = DateOverride.objects.create(
            clinic=clinic, staff=s.staff, location=s.location, date=dt.date(2031, 3, 9)
        )
        time_off = TimeOff.objects.create(
            clinic=clinic, staff=s.staff, category="other",
            start=dt.datetime(2031, 3, 11, 8, tzinfo=dt.UTC),
            end=dt.datetime(2031, 3, 11, 9, tzinfo=dt.UTC),
        )  # fmt: skip
        entry = waitlist_join(
            clinic=clinic, client=client, service=s.service,
            first_day=dt.date(2031, 3, 10), last_day=dt.date(2031, 3, 20),
        )  # fmt: skip
        notice = privacy_notice_publish(clinic=clinic, body="Our notice.")
        consent_record(clinic=clinic, client=client, notice=notice, method="staff")
        series, _booked = series_book(
            clinic=clinic, service=s.service, staff=s.staff,
            first_start=dt.datetime(2031, 3, 12, 9, tzinfo=dt.UTC), count=3,
        )  # fmt: skip
        closure = ClinicClosure.objects.create(
            clinic=clinic, first_day=dt.date(2031, 5, 1), last_day=dt.date(2031, 5, 1)
        )
        appointment = appointment_book(
            clinic=clinic, request=BookingRequest(service=s.service, staff=s.staff, start=AT)
        )
        request = subject_request_record(clinic=clinic, client=client, kind="access")
    return {
        "service": s.service.pk, "staff": s.staff.pk, "room": s.room.pk,
        "client": str(client.pk), "appointment": str(appointment.pk),
        "location": s.location.pk, "override": override.pk, "time_off": time_off.pk,
        "closure": closure.pk, "date": "2031-03-10", "entry": entry.pk, "notice": notice.pk,
        "series": series.pk, "request": str(request.pk),
    }  # fmt: skip


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = json.loads(json.dumps(api.get_openapi_schema()))  # as /api/v1/openapi.json serves it
    return [
        (method, path, op) for path, item in doc["paths"].items() for method, op in item.items()
    ]


def _request(api: ApiClient, method: str, path: str, op: dict[str, Any], ids: dict[str, Any]):
    url = path.removeprefix("/api/v1")
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url = url.replace(
                "{" + param["name"] + "}", str(ids[param["name"].removesuffix("_id")])
            )
    query: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and param["name"] in ids and param.get("required"):
            query[param["name"]] = ids[param["name"]]
        elif param["in"] == "query" and param.get("required"):
            query[param["name"]] = "2031-03-05"  # the dates of availability
    if method == "get":
        return api.get(url, query)
    if method == "delete":
        return api.delete(url)
    if method in ("patch", "put"):
        return getattr(api, method)(url, BODIES[op["operationId"]](ids))
    return api.post(url, BODIES[op["operationId"]](ids))


_PLACEHOLDER = {
    k: 1 for k in ("service", "staff", "client", "room", "appointment", "location", "notice")
}


def _takes_ids(op: dict[str, Any]) -> bool:
    path_ids = any(p["in"] == "path" and p["name"] != "date" for p in op.get("parameters", []))
    query_ids = any(
        p["in"] == "query" and p.get("required") and p["name"] in ("service", "staff", "client")
        for p in op.get("parameters", [])
    )
    body = BODIES[op["operationId"]](_PLACEHOLDER) if op["operationId"] in BODIES else {}
    return path_ids or query_ids or bool(set(body) & set(_PLACEHOLDER))


def test_every_operation_has_a_sample_body():
    for method, _path, op in _operations():
        if method in ("post", "patch", "put"):
            assert op["operationId"] in BODIES, f"add a sample body for {op['operationId']}"


def test_another_clinics_ids_are_404_and_change_nothing(clinic_a, clinic_b, clock):
    _objects(clinic_a)
    theirs = _objects(clinic_b)
    api = ApiClient(token_for(clinic_a))
    api.get("/clinic")  # the token's last-used date is written once a day: now, not below
    checked = 0
    for method, path, op in _operations():
        if not _takes_ids(op):
            continue
        before = snapshot()
        response = _request(api, method, path, op, theirs)
        assert response.status_code == 404, (op["operationId"], response.content)
        assert json.loads(response.content)["code"] == "not_found"
        assert snapshot() == before, op["operationId"]
        checked += 1
    assert checked >= 8


# What each list operation lists; a new list fails the test below until it is added.
LISTED = {
    "/api/v1/locations": Location,
    "/api/v1/rooms": Room,
    "/api/v1/services": Service,
    "/api/v1/staff": StaffMember,
    "/api/v1/appointments": Appointment,
    "/api/v1/clients": ClientRecord,
    "/api/v1/overrides": DateOverride,
    "/api/v1/time-off": TimeOff,
    "/api/v1/closures": ClinicClosure,
    "/api/v1/waitlist": WaitlistEntry,
    "/api/v1/privacy-notices": PrivacyNotice,
    "/api/v1/consents": ConsentRecord,
    "/api/v1/privacy-requests": SubjectRequest,
}


def test_lists_show_only_the_tokens_clinic(clinic_a, clinic_b, clock):
    _objects(clinic_a)
    theirs = _objects(clinic_b)
    api = ApiClient(token_for(clinic_a))
    for method, path, op in _operations():
        if method != "get" or _takes_ids(op):
            continue
        body = json.loads(api.get(path.removeprefix("/api/v1")).content)
        assert theirs["appointment"] not in json.dumps(body) and theirs["client"] not in json.dumps(
            body
        )
        if "items" not in body:
            assert body.get("id") in (None, clinic_a.pk), path
            continue
        assert body["items"], f"{path}: seed something for it to list"
        with platform_scope("test: whose rows were listed"):
            owners = set(
                LISTED[path]
                .objects.filter(pk__in=[i["id"] for i in body["items"]])
                .values_list("clinic_id", flat=True)
            )
        assert owners == {clinic_a.pk}, path


@pytest.mark.parametrize("operation", [op["operationId"] for _m, _p, op in _operations()])
def test_a_token_without_the_scope_is_403_and_changes_nothing(clinic_a, clock, operation):
    method, path, op = next(o for o in _operations() if o[2]["operationId"] == operation)
    needed = Scope(op["x-scope"])
    granting = {needed} | {s for s, implied in IMPLIED.items() if needed in implied}
    others = [s.value for s in Scope if s not in granting]
    ids = _objects(clinic_a)
    api = ApiClient(token_for(clinic_a, others))
    api.get("/clinic")  # the token's last-used date is written once a day: now, not below
    before = snapshot()
    response = _request(api, method, path, op, ids)
    assert response.status_code == 403, (operation, response.content)
    assert json.loads(response.content)["code"] == "scope_missing"
    assert snapshot() == before
