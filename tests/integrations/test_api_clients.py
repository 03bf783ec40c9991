"""Client records through the API: create, search by name prefix, email and phone, update,
and the same checks as the staff pages."""

from __future__ import annotations

import json

import pytest

from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(clinic_a) -> ApiClient:
    clinic_a.country = "DE"
    clinic_a.save()
    return ApiClient(token_for(clinic_a))


def _json(response, status=200):
    assert response.status_code == status, response.content
    return json.loads(response.content)


def test_create_search_and_update(api, clinic_a):
    made = _json(
        api.post(
            "/clients",
            {"full_name": "Grace Hopper", "email": "Grace@Example.test", "phone": "030 1234567"},
        ),
        201,
    )
    assert made["email"] == "grace@example.test" and made["phone"] == "+49301234567"
    for q in ("gra", "Hop", "grace@example.test", "+49 30 1234567", "gr ho"):
        found = _json(api.get("/clients", {"q": q}))["items"]
        assert [c["id"] for c in found] == [made["id"]], q
    assert _json(api.get("/clients", {"q": "nobody"}))["items"] == []

    changed = _json(api.patch(f"/clients/{made['id']}", {"note": "Prefers mornings"}))
    assert changed["note"] == "Prefers mornings" and changed["full_name"] == "Grace Hopper"
    assert _json(api.get("/clients", {"q": "grace@example.test"}))["items"][0]["note"]


def test_bad_contact_details_are_422_by_field_and_nothing_is_written(api, clinic_a):
    body = _json(api.post("/clients", {"full_name": "X", "email": "not-an-address"}), 422)
    assert body["code"] == "validation_failed"
    assert [e["loc"] for e in body["errors"]] == [["body", "email"]]
    assert "not-an-address" not in json.dumps(body)
    with clinic_context(clinic_a):
        assert not Client.objects.exists()


def test_a_restricted_record_is_read_only(api, clinic_a):
    made = _json(api.post("/clients", {"full_name": "Kept Still"}), 201)
    with clinic_context(clinic_a):
        Client.objects.filter(pk=made["id"]).update(restricted=True)
    refused = _json(api.patch(f"/clients/{made['id']}", {"note": "x"}), 409)
    assert refused["code"] == "restricted"


def test_null_is_not_a_value_for_a_patch(api):
    made = _json(api.post("/clients", {"full_name": "Some One"}), 201)
    assert _json(api.patch(f"/clients/{made['id']}", {"full_name": None}), 422)["code"] == (
        "null_field"
    )
