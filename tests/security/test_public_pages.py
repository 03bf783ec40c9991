"""The public booking pages: another clinic's service or link is not found there (P1), no
page sets a cookie, before or after booking (P19), and framing follows the clinic's list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic
from tests.security.helpers import snapshot
from tests.security.registry import PUBLIC_CLINIC_ROUTES

pytestmark = pytest.mark.django_db

ID_ROUTES = sorted(n for n, r in PUBLIC_CLINIC_ROUTES.items() if r.objects is not None)


@pytest.mark.parametrize("name", ID_ROUTES)
def test_another_clinics_service_or_link_is_not_found(name, clinic_a, clinic_b):
    route = PUBLIC_CLINIC_ROUTES[name]
    assert route.objects is not None
    a_kwargs = route.objects(clinic_a)
    route.objects(clinic_b)  # clinic B has its own, with other ids and tokens
    url = reverse(name, kwargs={"clinic_slug": clinic_b.slug, **a_kwargs})
    before = snapshot()

    responses = []
    if route.get:
        responses.append(Client().get(url))
    if route.post:
        responses.append(Client().post(url, route.post(clinic_b, a_kwargs)))

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(PUBLIC_CLINIC_ROUTES))
def test_public_pages_set_no_cookie_before_or_after_submitting(name, clinic_a):
    route = PUBLIC_CLINIC_ROUTES[name]
    if route.setup:
        route.setup(clinic_a)
    kwargs = route.objects(clinic_a) if route.objects else {}
    url = reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    browser = Client()
    statuses = []
    if route.get:
        response = browser.get(url)
        statuses.append(response.status_code)
        assert dict(response.cookies) == {}, name
    if route.post:
        response = browser.post(url, route.post(clinic_a, kwargs))
        statuses.append(response.status_code)
        assert dict(response.cookies) == {}, name
    assert statuses and all(s in (200, 302, 303) for s in statuses), (name, statuses)
    assert dict(browser.cookies) == {}


def test_a_valid_booking_post_books(clinic_a):
    route = PUBLIC_CLINIC_ROUTES["book:details"]
    assert route.objects is not None and route.post is not None
    kwargs = route.objects(clinic_a)
    url = reverse("book:details", kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    from bookwell.bookings.models import Appointment, Source

    response = Client().post(url, route.post(clinic_a, kwargs))

    assert response.status_code == 302
    assert "/manage/" in response["Location"]
    with clinic_context(clinic_a):
        assert Appointment.objects.filter(source=Source.ONLINE).count() == 1


def _clinic_with_origins(clinic: Clinic, origins: str) -> None:
    clinic.embed_origins = origins
    clinic.save(update_fields=["embed_origins"])


def test_the_booking_page_cannot_be_framed_by_default(clinic_a):
    response = Client().get(reverse("book:services", kwargs={"clinic_slug": clinic_a.slug}))

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_booking_page_may_be_framed_only_by_listed_origins(clinic_a, clinic_b):
    _clinic_with_origins(clinic_a, "https://www.clinic-a.example\nhttps://book.clinic-a.example")

    framed = Client().get(reverse("book:services", kwargs={"clinic_slug": clinic_a.slug}))
    other = Client().get(reverse("book:services", kwargs={"clinic_slug": clinic_b.slug}))
    staff_page = Client().get(reverse("accounts:signin"))

    policy = framed["Content-Security-Policy"]
    assert (
        "frame-ancestors 'self' https://www.clinic-a.example https://book.clinic-a.example"
        in policy
    )
    assert "X-Frame-Options" not in framed
    assert "frame-ancestors 'none'" in other["Content-Security-Policy"]
    assert staff_page["X-Frame-Options"] == "DENY"


def test_a_post_from_another_site_is_refused(clinic_a):
    route = PUBLIC_CLINIC_ROUTES["book:details"]
    assert route.objects is not None and route.post is not None
    kwargs = route.objects(clinic_a)
    url = reverse("book:details", kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    before = snapshot()

    cross = Client().post(url, route.post(clinic_a, kwargs), HTTP_ORIGIN="https://evil.example")
    fetch = Client().post(url, route.post(clinic_a, kwargs), HTTP_SEC_FETCH_SITE="cross-site")

    assert cross.status_code == 403
    assert fetch.status_code == 403
    assert snapshot() == before


def test_the_logo_is_served_with_its_recognised_type_and_never_sniffed(clinic_a):
    from tests.security.registry import TINY_PNG

    url = reverse("book:logo", kwargs={"clinic_slug": clinic_a.slug})
    assert Client().get(url).status_code == 404  # none yet
    clinic_a.logo, clinic_a.logo_content_type = TINY_PNG, "image/png"
    clinic_a.save()

    response = Client().get(url)

    assert response.status_code == 200
    assert response.content == TINY_PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=3600" in response["Cache-Control"]
