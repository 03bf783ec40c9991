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
    from django.utils import timezone

    from bookwell.core.health import heartbeat

    # A worker runs (else /readyz rightly answers 503, "not ready").
    heartbeat(worker="test:1", started_at=timezone.now())
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


def test_real_pages_answer_junk_query_strings_without_a_500(clinic_a):
    """The sweep above meets mostly 404s (junk ids); here the ids are real, so the query
    string is read: months, days and dates at the ends of the calendar, and worse."""
    import datetime as dt

    from django.urls import reverse

    from bookwell.bookings import manage_links
    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.core.context import clinic_context
    from tests.bookings.factories import schedule

    setup = schedule(clinic_a, min_notice_min=0)
    owner = signed_in_client(make_member(clinic_a, Role.OWNER))
    with clinic_context(clinic_a):
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=start),
            notify=False,
        )
        token = manage_links.issue(appointment)
    slug = clinic_a.slug
    public = [
        reverse("book:service", kwargs={"clinic_slug": slug, "service_id": setup.service.pk}),
        reverse("book:details", kwargs={"clinic_slug": slug, "service_id": setup.service.pk}),
        reverse("book:waitlist", kwargs={"clinic_slug": slug, "service_id": setup.service.pk}),
        reverse("book:manage", kwargs={"clinic_slug": slug, "token": token}),
        reverse("book:manage-reschedule", kwargs={"clinic_slug": slug, "token": token}),
    ]
    staff = [
        reverse("bookings:calendar", kwargs={"clinic_slug": slug}),
        reverse("bookings:new", kwargs={"clinic_slug": slug}),
        reverse(
            "bookings:appointment",
            kwargs={"clinic_slug": slug, "appointment_id": appointment.pk},
        ),
        reverse("bookings:waitlist", kwargs={"clinic_slug": slug}),
    ]
    queries = [
        *JUNK_QUERIES,
        "?staff=any&month=99999999999999999999-1&day=99999999-01-01",
        "?staff=any&month=0-0&day=2031-02-30&start=99999999999999999999",
        f"?staff={setup.staff.pk}&month=9999-12&day=9999-12-31&start=-1",
        "?staff=any&start=253402300800&lang=xx",  # the first second after 9999-12-31
    ]
    for who, client, urls in (("anonymous", Client(), public), ("owner", owner, staff)):
        for url in urls:
            for query in queries:
                response = client.get(url + query)
                assert response.status_code < 500, (who, url + query, response.status_code)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("max_advance_days", "max_advance_days"),
        ("min_notice_min", "min_notice_min"),
        ("cancel_notice_min", "cancel_notice_min"),
    ],
)
def test_booking_windows_too_large_for_a_calendar_are_form_errors(clinic_a, name, field):
    from django.urls import reverse

    from bookwell.core.context import clinic_context
    from bookwell.scheduling.models import Service
    from tests.bookings.factories import schedule

    setup = schedule(clinic_a)
    owner = signed_in_client(make_member(clinic_a, Role.OWNER))
    edit = reverse(
        "scheduling:services-edit",
        kwargs={"clinic_slug": clinic_a.slug, "object_id": setup.service.pk},
    )
    page = owner.get(edit).content.decode()
    assert f'name="{field}"' in page
    data = {
        "name": "Massage",
        "duration_min": "30",
        "buffer_before_min": "0",
        "buffer_after_min": "0",
        "slot_interval_min": "15",
        "min_notice_min": "0",
        "max_advance_days": "90",
        "cancel_notice_min": "0",
        "reschedule_notice_min": "0",
        "capacity": "1",
        "price": "0",
        "assignment_policy": "least_booked",
        "staff": [setup.staff.pk],
        "online_bookable": "on",
        field: "99999999",
    }
    response = owner.post(edit, data)
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to" in response.content.decode()
    with clinic_context(clinic_a):
        assert getattr(Service.objects.get(pk=setup.service.pk), name) != 99999999

    rules = reverse("tenancy:settings-booking", kwargs={"clinic_slug": clinic_a.slug})
    refused = owner.post(
        rules, {"default_max_advance_days": "99999999999", "booking_contact": "email"}
    )
    assert refused.status_code == 400
    clinic_a.refresh_from_db()
    assert clinic_a.default_max_advance_days == 90
