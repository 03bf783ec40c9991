"""schemathesis over every operation of the OpenAPI document, signed in with a seeded token:
no server errors, only documented statuses and content types, responses that match their
schemas, and invalid input refused. Examples per operation are bounded (BOOKWELL_FUZZ_EXAMPLES)
so the run stays within minutes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from bookwell.api import api
from bookwell.core.context import clinic_context
from bookwell.integrations.models import ApiToken
from tests.bookings.factories import schedule
from tests.factories import ClinicFactory
from tests.integrations.helpers import ALL_SCOPES

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema())))
schema.app = get_wsgi_application()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = int(os.environ.get("BOOKWELL_FUZZ_EXAMPLES", "30"))


# The seeded token's secret is fixed (schemathesis prepares some requests while collecting,
# before any fixture runs); each test stores its digest afresh.
FUZZ_SECRET = "bw_f0f0f0f0f0_" + "fuzz" * 11


@schema.auth()
class SeededToken:
    """The seeded token, sent as schemathesis sends credentials (not as generated data)."""

    def get(self, case: Any, ctx: Any) -> str:
        return FUZZ_SECRET

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture
def seeded(db: None) -> Iterator[None]:
    clinic = ClinicFactory(slug="fuzz")
    schedule(clinic, with_room=True)
    # As Django's test client does: the test's transaction must outlive each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    with clinic_context(clinic):
        ApiToken.objects.create(
            clinic=clinic,
            name="Fuzz",
            prefix="f0f0f0f0f0",
            digest=hashlib.sha256(FUZZ_SECRET.encode()).hexdigest(),
            scopes=ALL_SCOPES,
        )
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples every run: a failure is reproducible
)
@override_settings(API_RATE_PER_MINUTE=1_000_000, ALLOWED_HOSTS=["localhost", "testserver"])
def test_every_operation_holds_its_contract(case, seeded):
    case.call_and_validate(checks=CHECKS)
