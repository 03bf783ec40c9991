"""List pages load in a fixed number of queries, however long the list (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookwell.tenancy.permissions import Role
from tests.factories import make_member
from tests.security.registry import _invitation

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    client.get(url)  # the session's once-a-minute refresh happens here, not in the count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["team", "home"])
def test_pages_do_not_grow_queries_with_the_team(url_name, clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    url = f"/c/{clinic_a.slug}/{'team/' if url_name == 'team' else ''}"
    make_member(clinic_a, Role.PRACTITIONER)
    _invitation(clinic_a)
    small = _queries(owner, url)

    for _ in range(12):
        make_member(clinic_a, Role.FRONT_DESK)
        _invitation(clinic_a)
    large = _queries(owner, url)

    assert large == small
