"""The API's contract: its documents, tokens only, scopes, problem+json, rate limits."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db


def _is_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:bookwell:problem:{code}" and body["title"] and body["detail"]
    return body


def test_the_openapi_document_lists_every_operation_with_its_scope_and_problem_errors():
    doc = json.loads(Client().get("/api/v1/openapi.json").content)
    assert doc["info"]["title"] == "Bookwell API"
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert len(operations) >= 12
    for op in operations:
        assert op["x-scope"], op["operationId"]
        assert op["security"] == [{"TokenAuth": []}]
        for status in ("401", "403", "404", "422", "429"):
            assert list(op["responses"][status]["content"]) == ["application/problem+json"]


def test_the_docs_page_uses_the_packaged_swagger_ui_not_a_cdn():
    page = Client().get("/api/v1/docs")
    html = page.content.decode()
    assert page.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "<script>" not in html


def test_no_token_a_bad_token_or_a_signed_in_session_is_401(clinic_a, member_client):
    body = _is_problem(ApiClient(None).get("/clinic"), 401, "unauthenticated")
    assert "Bearer" in body["detail"]
    assert ApiClient(None).get("/clinic")["WWW-Authenticate"].startswith("Bearer")
    _is_problem(ApiClient("bw_0123456789_nope").get("/clinic"), 401, "unauthenticated")
    _, browser = member_client(clinic_a, Role.OWNER)  # a session cookie is not enough
    _is_problem(browser.get("/api/v1/clinic"), 401, "unauthenticated")


def test_the_token_sees_its_own_clinic(clinic_a, clinic_b):
    api = ApiClient(token_for(clinic_a))
    body = json.loads(api.get("/clinic").content)
    assert body["slug"] == clinic_a.slug and body["id"] == clinic_a.pk


def test_a_missing_scope_is_403_naming_it(clinic_a):
    api = ApiClient(token_for(clinic_a, ["clients:read"]))
    body = _is_problem(api.get("/services"), 403, "scope_missing")
    assert body["scope"] == "schedule:read"


def test_write_scopes_include_reading(clinic_a):
    schedule(clinic_a)
    api = ApiClient(token_for(clinic_a, ["schedule:write"]))
    assert api.get("/services").status_code == 200


def test_bad_input_is_422_without_echoing_the_value(clinic_a):
    api = ApiClient(token_for(clinic_a))
    sentinel = "ada.lovelace@example.test"
    body = _is_problem(
        api.post("/appointments", {"service": sentinel, "start": "2031-01-01T10:00:00Z"}),
        422,
        "validation_failed",
    )
    assert any(e["loc"][-1] == "service" for e in body["errors"])
    assert sentinel not in json.dumps(body)
    # Unknown fields are refused, not ignored; so is a time without an offset.
    setup = schedule(clinic_a)
    base = {"service": setup.service.pk, "staff": setup.staff.pk}
    _is_problem(
        api.post("/appointments", {**base, "start": "2031-01-01T10:00:00Z", "colour": "red"}),
        422,
        "validation_failed",
    )
    _is_problem(
        api.post("/appointments", {**base, "start": "2031-01-01T10:00:00"}),
        422,
        "validation_failed",
    )
    _is_problem(api.post("/appointments", "not json at all"), 400, "malformed_body")


def test_unknown_ids_are_404_problems(clinic_a):
    api = ApiClient(token_for(clinic_a))
    _is_problem(api.get("/services/999999"), 404, "not_found")
    _is_problem(api.get("/appointments/not-a-uuid"), 422, "validation_failed")
    _is_problem(api.get("/appointments/7d9f4a52-1c1e-4c4f-9a57-0d8c3f1c2b11"), 404, "not_found")


def test_a_bad_cursor_is_400(clinic_a):
    api = ApiClient(token_for(clinic_a))
    _is_problem(api.get("/services", {"cursor": "forged"}), 400, "invalid_cursor")


@override_settings(API_RATE_PER_MINUTE=3)
def test_each_token_has_its_own_rate_limit_with_retry_after(clinic_a):
    busy = ApiClient(token_for(clinic_a))
    calm = ApiClient(token_for(clinic_a))
    for _ in range(3):
        assert busy.get("/clinic").status_code == 200
    refused = busy.get("/clinic")
    body = _is_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60 and body["retry_after"] >= 1
    assert calm.get("/clinic").status_code == 200


def test_unknown_paths_wrong_methods_and_big_bodies_are_problems(clinic_a):
    api = ApiClient(token_for(clinic_a))
    _is_problem(api.get("/no-such-thing"), 404, "not_found")
    wrong = api.client.delete("/api/v1/clinic", headers=api.headers)
    _is_problem(wrong, 405, "method_not_allowed")
    huge = {"full_name": "x" * (300 * 1024)}
    _is_problem(api.post("/clients", huge), 413, "body_too_large")


def test_an_operation_that_fails_after_writing_leaves_nothing_written(clinic_a, monkeypatch):
    """The request's transaction is rolled back when the answer is an error (ATOMIC_REQUESTS
    sees no exception once the error is a problem+json answer)."""
    from bookwell.core.errors import Conflict
    from bookwell.scheduling import api as scheduling_api
    from bookwell.scheduling.models import ClinicClosure

    def save_then_fail(*, clinic, closure):
        closure.clinic = clinic
        closure.save()
        raise Conflict("Refused after writing.", code="late_refusal")

    monkeypatch.setattr(scheduling_api, "closure_add", save_then_fail)
    api = ApiClient(token_for(clinic_a))
    answer = api.post("/closures", {"first_day": "2031-12-24", "last_day": "2031-12-26"})
    _is_problem(answer, 409, "late_refusal")
    from bookwell.core.context import clinic_context

    with clinic_context(clinic_a):
        assert not ClinicClosure.objects.exists()


def test_a_body_that_is_not_json_is_415(clinic_a):
    api = ApiClient(token_for(clinic_a))
    form = api.client.post(
        "/api/v1/clients", {"full_name": "Form Person"}, headers=api.headers
    )  # multipart, as a browser form would send it
    _is_problem(form, 415, "unsupported_media_type")
