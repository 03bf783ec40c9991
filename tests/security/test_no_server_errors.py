"""Bad input never gets a 500: every route x junk arguments x unexpected methods."""

from __future__ import annotations

import pytest
from django.test import Client

from bookwell.tenancy.permissions import Role
from tests.conftest import signed_in_client
from tests.factories import make_member
from tests.security.helpers import url_patterns

pytestmark = pytest.mark.django_db

JUNK_VALUES = {
    "int": ["0", "999999999", "99999999999999999999999"],
    "slug": ["nope", "a" * 60, "clinic-a"],
    "str": ["x", "%00", "a" * 300, "..", "MQ"],
    "uuid": ["00000000-0000-0000-0000-000000000000", "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b"],
}
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
JUNK_BODIES = [
    {},
    {"email": "not-an-email", "password": "", "role": "emperor", "code": "abc", "name": "x" * 5000},
    {"email": "a@b.c" * 100, "time_zone": "Mars/Olympus", "country": "Z9", "locale": "xx"},
    {"next": "https://evil.example/", "email": ["a@b.test", "c@d.test"], "password1": "1"},
    {"name": "Evil\r\nBcc: x@y.test", "full_name": "A\x00B", "clinic_name": "C\nD", "body": "\x00"},
    # The ends of the calendar: arithmetic on them overflows unless they are refused first.
    {
        "date": "9999-12-31",
        "time": "23:59",
        "first_day": "0001-01-01",
        "last_day": "9999-12-31",
        "start": "9999-12-31T23:59",
        "end": "0001-01-01T00:00",
        "effective_at": "9999-12-31T23:59",
        "repeat": "weekly",
        "count": "52",
    },
]
# The same ends, and other junk, in query strings.
JUNK_QUERIES = [
    "?date=9999-12-31&view=week&by=room&location=x&staff=-1&room=99999999999999999999",
    "?date=0001-01-01&from=0001-01-01&day=9999-12-31&month=9999-12&minute=99999",
    "?from=9999-12-31&to=0001-01-01&start=9999-12-31T23:59:59Z&end=x&page=-5&q=%00",
]


def _urls(clinic_slug: str) -> list[str]:
    urls: list[str] = []
    for _, pattern in url_patterns():
        route = str(pattern.pattern)
        converters = pattern.pattern.converters
        variants = [route]
        for param, conv in converters.items():
            kind = type(conv).__name__.replace("Converter", "").lower()
            values = JUNK_VALUES.get(kind, JUNK_VALUES["str"])
            if param == "clinic_slug":
                values = [clinic_slug, "no-such-clinic"]
            token = f"<{'' if kind == 'str' else kind + ':'}{param}>"
            variants = [v.replace(token, val) for v in variants for val in values]
        urls.extend("/" + v for v in variants)
    # Signing out ends the session: walk those last so the rest runs signed in.
    return sorted(urls, key=lambda u: "signout" in u)


@pytest.fixture
def clients(clinic_a):
    owner = make_member(clinic_a, Role.OWNER)
    return {"anonymous": Client(), "owner": signed_in_client(owner)}


@pytest.mark.parametrize("who", ["anonymous", "owner"])
def test_no_route_answers_500_to_junk(who, clients, clinic_a):
    client = clients[who]
    urls = _urls(clinic_a.slug)
    assert len(urls) > 20
    for url in urls:
        for method in METHODS:
            bodies = JUNK_BODIES if method == "post" else [{}]
            for body in bodies:
                # The test client re-raises view exceptions, so a crash fails loudly here too.
                response = (
                    getattr(client, method)(url, body) if body else getattr(client, method)(url)
                )
                assert response.status_code < 500, (who, method, url, body, response.status_code)
        if "signout" not in url:
            for query in JUNK_QUERIES:
                response = client.get(url + query)
                assert response.status_code < 500, (who, url + query, response.status_code)
        if who == "owner" and "signout" not in url:
            assert "_auth_user_id" in client.session, f"{url} signed the owner out"


def test_malformed_bodies_and_unknown_paths(clients):
    client = clients["owner"]
    r1 = client.post(
        "/signin/", data=b"\xff\xfe\x00garbage", content_type="application/x-www-form-urlencoded"
    )
    r2 = client.post("/signup/", data="{not json", content_type="application/json")
    r3 = client.get("/c/")
    assert r1.status_code == 400
    assert r2.status_code == 400
    assert r3.status_code == 404
