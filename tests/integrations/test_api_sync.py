"""Incremental sync: every list the API offers can be asked for what changed since a moment,
and a change saved field by field (update_fields) counts as a change."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bookwell.core.context import clinic_context
from bookwell.scheduling.models import Service
from bookwell.scheduling.services import catalog_archive
from tests.bookings.factories import schedule
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)


def test_archiving_a_service_shows_in_what_changed_since(clinic_a, clock):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        other = Service.objects.create(clinic=clinic_a, name="Other", duration_min=20)
    api = ApiClient(token_for(clinic_a))
    everything = json.loads(api.get("/services").content)["items"]
    assert {s["id"] for s in everything} == {setup.service.pk, other.pk}

    clock.shift(dt.timedelta(minutes=3))
    mark = (START + dt.timedelta(minutes=2)).isoformat()
    with clinic_context(clinic_a):
        catalog_archive(obj=other, archived=True)  # saves update_fields=["archived"]
    changed = json.loads(api.get("/services", {"updated_since": mark}).content)["items"]
    assert [(s["id"], s["archived"]) for s in changed] == [(other.pk, True)]


def test_every_list_takes_updated_since(clinic_a):
    from bookwell.api import api as ninja_api

    doc = json.loads(json.dumps(ninja_api.get_openapi_schema()))
    lists = 0
    for path, item in doc["paths"].items():
        op = item.get("get")
        names = {p["name"] for p in (op or {}).get("parameters", [])}
        if "cursor" not in names:  # not a paged list
            continue
        lists += 1
        if path.endswith(("/privacy-notices", "/consents")):
            continue  # never changed once written (P18): nothing to sync but new rows
        assert "updated_since" in names, path
    assert lists >= 10
