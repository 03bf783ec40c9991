"""P2: every role x every permission-protected route, allowed exactly where the table says."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from bookwell.audit.models import Action, AuditEvent
from bookwell.core.context import platform_scope
from bookwell.tenancy.permissions import ROLE_PERMISSIONS, Role, role_has
from tests.security.helpers import snapshot
from tests.security.registry import CLINIC_ROUTES

pytestmark = pytest.mark.django_db

CASES = [
    (name, role, method)
    for name, route in sorted(CLINIC_ROUTES.items())
    for role in Role
    for method in (["GET"] if route.get else []) + (["POST"] if route.post else [])
]


def test_the_table_gives_each_role_a_distinct_least_privilege_set():
    assert ROLE_PERMISSIONS[Role.READ_ONLY] <= ROLE_PERMISSIONS[Role.FRONT_DESK]
    assert ROLE_PERMISSIONS[Role.ADMIN] < ROLE_PERMISSIONS[Role.OWNER]
    assert not role_has("not-a-role", next(iter(ROLE_PERMISSIONS[Role.OWNER])))


@pytest.mark.parametrize(("name", "role", "method"), CASES)
def test_role_matrix(name, role, method, clinic_a, member_client):
    route = CLINIC_ROUTES[name]
    if route.setup:
        route.setup(clinic_a)
    kwargs = route.url_kwargs(clinic_a)
    _, client = member_client(clinic_a, role)
    url = reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    perm = resolve(url).func.bookwell_permission
    allowed = role_has(role, perm)
    before = snapshot()

    if method == "GET":
        response = client.get(url)
    else:
        assert route.post is not None
        response = client.post(url, route.post(clinic_a))

    if allowed:
        assert response.status_code in route.success_status, (name, role, response.status_code)
        if method == "POST":
            assert snapshot() != before, f"{name} as {role} was allowed but changed nothing"
    else:
        assert response.status_code == 403, (name, role, response.status_code)
        assert snapshot() == before, f"{name} as {role} was refused but changed data"
        # ...and the refusal is in the clinic's audit trail, once (P5).
        with platform_scope("test"):
            [denied] = AuditEvent.objects.filter(action=Action.PERMISSION_DENIED)
        assert (denied.clinic_id, denied.extra["permission"]) == (clinic_a.pk, perm.value)
        assert denied.extra["route"] == name
