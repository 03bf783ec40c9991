"""Every route is classified, and every staff route declares its permission (P1, P2)."""

from __future__ import annotations

from django.urls import reverse

from bookwell.tenancy.permissions import Perm
from tests.security.helpers import url_patterns
from tests.security.registry import (
    ACCOUNT_ROUTES,
    API_NAMESPACE,
    CLINIC_ROUTES,
    PUBLIC_CLINIC_ROUTES,
    PUBLIC_ROUTES,
)


def test_every_route_is_in_exactly_one_registry_group():
    names = [name for name, _ in url_patterns() if not name.startswith(API_NAMESPACE)]
    groups = [PUBLIC_ROUTES, ACCOUNT_ROUTES, set(CLINIC_ROUTES), set(PUBLIC_CLINIC_ROUTES)]

    unlisted = [n for n in names if not any(n in g for g in groups)]
    doubled = [n for n in names if sum(n in g for g in groups) > 1]
    stale = [n for g in groups for n in g if n not in names]

    assert unlisted == [], f"add these routes to tests/security/registry.py: {unlisted}"
    assert doubled == []
    assert stale == []


def test_clinic_routes_take_the_clinic_slug_and_id_routes_have_a_factory():
    for name, pattern in url_patterns():
        params = set(pattern.pattern.converters)
        if name in CLINIC_ROUTES:
            assert "clinic_slug" in params, name
            takes_ids = params - {"clinic_slug"} - set(CLINIC_ROUTES[name].fixed)
            if takes_ids:
                assert CLINIC_ROUTES[name].objects is not None, (
                    f"{name} takes {takes_ids}: give it an object factory in the registry"
                )
        elif name in PUBLIC_CLINIC_ROUTES:
            assert "clinic_slug" in params, name
            if params - {"clinic_slug"}:
                assert PUBLIC_CLINIC_ROUTES[name].objects is not None, name
        else:
            assert "clinic_slug" not in params, (
                f"{name} is a clinic route: list it in CLINIC_ROUTES or PUBLIC_CLINIC_ROUTES"
            )


def test_every_clinic_route_declares_a_permission():
    for name, pattern in url_patterns():
        if name in CLINIC_ROUTES:
            perm = getattr(pattern.callback, "bookwell_permission", None)
            assert isinstance(perm, Perm), f"{name} declares no permission"


def test_the_registry_resolves(clinic_a):
    # Sanity: the factories build kwargs that reverse() accepts.
    for name, route in CLINIC_ROUTES.items():
        kwargs = route.url_kwargs(clinic_a)
        assert reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs}).startswith("/c/")
