"""Settings for the public booking page: booking rules (consent needs a notice, P18), branding
(a readable colour, a logo recognised from its bytes) and the sites that may frame the page."""

from __future__ import annotations

import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from bookwell.clients.services import privacy_notice_publish
from bookwell.core.context import clinic_context
from bookwell.core.images import NotAnImage, sniff_image
from bookwell.scheduling.models import Service
from bookwell.tenancy.permissions import Role
from tests.security.registry import TINY_PNG

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(clinic_a, member_client):
    return member_client(clinic_a, Role.OWNER)[1]


def _url(name: str, clinic) -> str:
    return reverse(f"tenancy:{name}", kwargs={"clinic_slug": clinic.slug})


def _rules(**extra):
    return {
        "online_booking": "on",
        "booking_contact": "email",
        "waitlist_offer_minutes": 120,
        "default_min_notice_min": 120,
        "default_max_advance_days": 90,
        "default_cancel_notice_min": 1440,
        **extra,
    }


def test_booking_rules_are_saved_and_can_be_applied_to_every_service(clinic_a, owner):
    with clinic_context(clinic_a):
        service = Service.objects.create(clinic=clinic_a, name="S", duration_min=30)

    response = owner.post(
        _url("settings-booking", clinic_a),
        _rules(
            booking_contact="both",
            allow_pseudonyms="on",
            default_min_notice_min=30,
            default_cancel_notice_min=600,
            apply_to_services="on",
        ),
    )

    assert response.status_code == 302
    clinic_a.refresh_from_db()
    assert (clinic_a.booking_contact, clinic_a.allow_pseudonyms) == ("both", True)
    with clinic_context(clinic_a):
        service.refresh_from_db()
    assert (service.min_notice_min, service.cancel_notice_min, service.reschedule_notice_min) == (
        30,
        600,
        600,
    )


def test_rules_without_applying_leave_services_alone(clinic_a, owner):
    with clinic_context(clinic_a):
        service = Service.objects.create(clinic=clinic_a, name="S", duration_min=30)
    owner.post(_url("settings-booking", clinic_a), _rules(default_min_notice_min=30))
    with clinic_context(clinic_a):
        service.refresh_from_db()
    assert service.min_notice_min == 120


def test_consent_cannot_be_required_before_a_notice_is_published(clinic_a, owner):
    refused = owner.post(_url("settings-booking", clinic_a), _rules(require_consent="on"))
    assert refused.status_code == 400
    assert "Publish a privacy notice first" in refused.content.decode()
    clinic_a.refresh_from_db()
    assert not clinic_a.require_consent

    with clinic_context(clinic_a):
        privacy_notice_publish(clinic=clinic_a, body="Our notice.")
    accepted = owner.post(_url("settings-booking", clinic_a), _rules(require_consent="on"))
    assert accepted.status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.require_consent


def test_bad_rules_show_errors_and_change_nothing(clinic_a, owner):
    response = owner.post(
        _url("settings-booking", clinic_a),
        _rules(booking_contact="carrier-pigeon", default_max_advance_days=-1),
    )
    assert response.status_code == 400
    clinic_a.refresh_from_db()
    assert clinic_a.booking_contact == "email"


def test_a_colour_too_light_for_white_text_is_refused(clinic_a, owner):
    light = owner.post(_url("settings-branding", clinic_a), {"brand_colour": "#a0e0d0"})
    dark = owner.post(_url("settings-branding", clinic_a), {"brand_colour": "#0B4F6C"})

    assert light.status_code == 400
    assert "hard to read" in light.content.decode()
    assert dark.status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.brand_colour == "#0b4f6c"
    css = Client().get(reverse("book:theme", kwargs={"clinic_slug": clinic_a.slug}))
    assert "--brand: #0b4f6c" in css.content.decode()


def _upload(owner, clinic, name: str, data: bytes, content_type: str):
    return owner.post(
        _url("settings-branding", clinic),
        {"brand_colour": "#1f6f5c", "logo": SimpleUploadedFile(name, data, content_type)},
    )


def test_a_png_logo_is_accepted_shown_and_removed(clinic_a, owner):
    uploaded = _upload(owner, clinic_a, "logo.png", TINY_PNG, "image/png")
    assert uploaded.status_code == 302
    logo = Client().get(reverse("book:logo", kwargs={"clinic_slug": clinic_a.slug}))
    assert logo.content == TINY_PNG and logo["Content-Type"] == "image/png"
    page = Client().get(reverse("book:services", kwargs={"clinic_slug": clinic_a.slug}))
    assert 'class="book-logo"' in page.content.decode()

    owner.post(
        _url("settings-branding", clinic_a), {"brand_colour": "#1f6f5c", "remove_logo": "on"}
    )
    clinic_a.refresh_from_db()
    assert clinic_a.logo is None


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
            "image/svg+xml",
        ),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"garbage", "image/png"),
        ("logo.png", b"GIF89a" + b"\x00" * 20, "image/png"),
        ("big.png", TINY_PNG + b"\x00" * (200 * 1024), "image/png"),
        (
            "huge.png",
            TINY_PNG[:16] + struct.pack(">II", 5000, 10) + TINY_PNG[24:],
            "image/png",
        ),
    ],
)
def test_other_files_are_refused_as_logos(clinic_a, owner, name, data, content_type):
    response = _upload(owner, clinic_a, name, data, content_type)
    assert response.status_code == 400
    clinic_a.refresh_from_db()
    assert clinic_a.logo is None


def test_image_headers_are_read_without_decoding():
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        b"\xff\xc0\x00\x11\x08\x00\x20\x00\x40\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    )
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00" + (
        (99).to_bytes(3, "little") + (49).to_bytes(3, "little")
    )
    assert sniff_image(TINY_PNG) == ("image/png", 1, 1)
    assert sniff_image(jpeg) == ("image/jpeg", 64, 32)
    assert sniff_image(webp) == ("image/webp", 100, 50)
    with pytest.raises(NotAnImage):
        sniff_image(b"<svg></svg>")


def test_embedding_origins_are_checked_and_then_allowed_to_frame(clinic_a, owner):
    bad = owner.post(
        _url("settings-embedding", clinic_a), {"embed_origins": "http://insecure.example"}
    )
    assert bad.status_code == 400
    good = owner.post(
        _url("settings-embedding", clinic_a),
        {"embed_origins": "https://WWW.Clinic-A.example/\nhttps://www.clinic-a.example"},
    )
    assert good.status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.embed_origins == "https://www.clinic-a.example"
    page = Client().get(reverse("book:services", kwargs={"clinic_slug": clinic_a.slug}))
    assert "frame-ancestors 'self' https://www.clinic-a.example" in page["Content-Security-Policy"]
