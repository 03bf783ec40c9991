"""P1: a user of clinic B asking for clinic A's objects gets 404 and nothing changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookwell.tenancy.permissions import Role
from tests.security.helpers import snapshot
from tests.security.registry import CLINIC_ROUTES

pytestmark = pytest.mark.django_db

ID_ROUTES = sorted(name for name, r in CLINIC_ROUTES.items() if r.objects is not None)


def test_there_are_id_taking_routes_to_probe():
    assert ID_ROUTES


@pytest.mark.parametrize("name", ID_ROUTES)
def test_other_clinics_object_is_not_found_from_own_clinic(name, clinic_a, clinic_b, member_client):
    route = CLINIC_ROUTES[name]
    assert route.objects is not None
    a_object = route.objects(clinic_a)
    if route.setup:
        route.setup(clinic_b)
    _, b_owner = member_client(clinic_b, Role.OWNER)
    url = reverse(name, kwargs={"clinic_slug": clinic_b.slug, **a_object})
    before = snapshot()

    responses = []
    if route.get:
        responses.append(b_owner.get(url))
    if route.post:
        responses.append(b_owner.post(url, route.post(clinic_b)))

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(CLINIC_ROUTES))
def test_other_clinics_pages_are_not_found_for_non_members(name, clinic_a, clinic_b, member_client):
    route = CLINIC_ROUTES[name]
    if route.setup:
        route.setup(clinic_a)
    kwargs = route.url_kwargs(clinic_a)
    _, b_owner = member_client(clinic_b, Role.OWNER)
    url = reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    before = snapshot()

    responses = []
    if route.get:
        responses.append(b_owner.get(url))
    if route.post:
        responses.append(b_owner.post(url, route.post(clinic_a)))

    # Same answer as for a clinic that does not exist.
    missing = b_owner.get(reverse("tenancy:home", kwargs={"clinic_slug": "no-such-clinic"}))
    assert missing.status_code == 404
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert snapshot() == before
