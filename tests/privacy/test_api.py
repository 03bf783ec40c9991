"""Clients' rights through the API (P17): one test per right."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from bookwell.bookings.models import Appointment
from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from bookwell.privacy.models import RequestStatus, SubjectRequest
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(clinic_a):
    return ApiClient(token_for(clinic_a))


def _request(api, client, kind, **extra):
    response = api.post(f"/clients/{client.pk}/privacy-requests", {"kind": kind, **extra})
    assert response.status_code == 201, response.content
    return json.loads(response.content)


def test_access_and_portability_a_request_then_the_copy(clinic_a, booked, api):
    received = timezone.localdate() - dt.timedelta(days=29)
    made = _request(api, booked, "access", received_on=received.isoformat())
    assert (made["kind"], made["status"], made["source"]) == ("access", "open", "api")
    assert made["due_on"] == (received + dt.timedelta(days=30)).isoformat()
    copy = api.get(f"/clients/{booked.pk}/copy")
    assert copy.status_code == 200 and copy["Cache-Control"] == "no-store"
    body = json.loads(copy.content)
    assert body["schema_version"] == 1
    assert body["data"]["client"][0]["email"] == "subject@example.test"
    assert len(body["data"]["appointments"]) == 1
    closed = api.post(f"/privacy-requests/{made['id']}/close", {"status": "done"})
    assert closed.status_code == 200 and json.loads(closed.content)["status"] == "done"
    again = api.post(f"/privacy-requests/{made['id']}/close", {"status": "done"})
    assert again.status_code == 409 and json.loads(again.content)["code"] == "request_closed"
    listed = json.loads(api.get("/privacy-requests", {"status": "done"}).content)
    assert [r["id"] for r in listed["items"]] == [made["id"]]
    portability = _request(api, booked, "portability")
    assert (
        json.loads(api.get("/privacy-requests", {"status": "open"}).content)["items"][0]["id"]
        == (portability["id"])
    )
    # Portability: the same machine-readable copy, taken to another service.
    moved = json.loads(api.get(f"/clients/{booked.pk}/copy").content)
    assert moved["data"]["client"][0]["id"] == str(booked.pk)
    assert moved["data"]["appointments"][0]["id"] == body["data"]["appointments"][0]["id"]
    done = api.post(f"/privacy-requests/{portability['id']}/close", {"status": "done"})
    assert json.loads(done.content)["status"] == "done"


def test_rectification_the_record_is_corrected(clinic_a, booked, api):
    made = _request(api, booked, "rectification")
    changed = api.patch(f"/clients/{booked.pk}", {"email": "fixed@example.test"})
    assert changed.status_code == 200
    api.post(f"/privacy-requests/{made['id']}/close", {})
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=booked.pk).email == "fixed@example.test"
        assert SubjectRequest.objects.get(pk=made["id"]).status == RequestStatus.DONE


def test_restriction_and_lifting(clinic_a, booked, api):
    made = _request(api, booked, "restriction")
    restricted = api.post(f"/clients/{booked.pk}/restrict", {})
    assert restricted.status_code == 200
    assert json.loads(restricted.content) == {"client_id": str(booked.pk), "restricted": True}
    assert api.post(f"/clients/{booked.pk}/restrict", {}).status_code == 409
    edit = api.patch(f"/clients/{booked.pk}", {"note": "Changed"})
    assert edit.status_code == 409  # read-only while restricted
    refused = api.post(f"/clients/{booked.pk}/lift", {"client_told": False})
    assert refused.status_code == 422
    assert json.loads(refused.content)["code"] == "client_not_told"
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=booked.pk).restricted
        assert SubjectRequest.objects.get(pk=made["id"]).status == RequestStatus.DONE
    assert api.post(f"/clients/{booked.pk}/lift", {"client_told": True}).status_code == 200
    with clinic_context(clinic_a):
        assert not Client.objects.get(pk=booked.pk).restricted


def test_erasure(clinic_a, booked, api):
    made = _request(api, booked, "erasure")
    unconfirmed = api.post(f"/clients/{booked.pk}/erase", {"confirm": False})
    assert unconfirmed.status_code == 422
    with clinic_context(clinic_a):
        assert Client.objects.filter(pk=booked.pk).exists()
    erased = api.post(f"/clients/{booked.pk}/erase", {"confirm": True})
    assert erased.status_code == 200
    assert json.loads(erased.content)["rows"]["client"] == 1
    assert api.get(f"/clients/{booked.pk}").status_code == 404
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(client__isnull=True).count() == 1
        request = SubjectRequest.objects.get(pk=made["id"])
    assert request.status == RequestStatus.DONE and request.client_id is None
    listed = json.loads(api.get("/privacy-requests").content)["items"]
    assert listed[0]["client_id"] is None


def test_bad_input_is_refused_and_nothing_written(clinic_a, booked, api):
    for body in ({"kind": "gossip"}, {"kind": "access", "extra": 1}, {"received_on": "x"}):
        response = api.post(f"/clients/{booked.pk}/privacy-requests", body)
        assert response.status_code in (400, 422), body
    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = api.post(
        f"/clients/{booked.pk}/privacy-requests", {"kind": "access", "received_on": future}
    )
    assert response.status_code == 422
    assert json.loads(response.content)["code"] == "future_request"
    with clinic_context(clinic_a):
        assert SubjectRequest.objects.count() == 0
