"""Clients' rights through the staff pages (P17): one test per right, plus who may do what."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookwell.audit.models import Action, AuditEvent
from bookwell.bookings.models import Appointment
from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from bookwell.privacy.models import RequestStatus, SubjectRequest
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def _url(clinic, client, tail=""):
    return f"/c/{clinic.slug}/clients/{client.pk}/privacy/{tail}"


def _today(clinic):
    """The clinic's own date, as the service reckons it (UTC's can be a day behind)."""
    return timezone.localdate(timezone=ZoneInfo(clinic.time_zone))


def _record(page, clinic, client, kind, received=None):
    received = received or _today(clinic)
    return page.post(_url(clinic, client), {"kind": kind, "received_on": received.isoformat()})


def _only_request(clinic) -> SubjectRequest:
    with clinic_context(clinic):
        return SubjectRequest.objects.get()


def test_access_front_desk_records_it_the_owner_downloads_the_copy_and_answers(
    clinic_a, booked, member_client
):
    _, desk = member_client(clinic_a, Role.FRONT_DESK)
    assert _record(desk, clinic_a, booked, "access").status_code == 302
    request = _only_request(clinic_a)
    assert request.due_on == _today(clinic_a) + dt.timedelta(days=30)
    assert desk.get(_url(clinic_a, booked, "copy.json")).status_code == 403  # not theirs to send

    _, owner = member_client(clinic_a, Role.OWNER)
    page = owner.get(_url(clinic_a, booked))
    assert "Access: a copy of their data" in page.content.decode()
    copy = owner.get(_url(clinic_a, booked, "copy.json"))
    assert copy.status_code == 200 and copy["Content-Type"] == "application/json"
    assert copy["Cache-Control"] == "no-store"
    data = json.loads(copy.content)["data"]
    assert data["client"][0]["email"] == "subject@example.test"
    assert len(data["appointments"]) == 1
    closed = owner.post(
        f"/c/{clinic_a.slug}/privacy/requests/{request.pk}/close/", {"status": "done"}
    )
    assert closed.status_code == 302
    assert _only_request(clinic_a).status == RequestStatus.DONE
    with clinic_context(clinic_a):
        downloaded = AuditEvent.objects.get(action=Action.CLIENT_COPY_DOWNLOADED)
    assert downloaded.extra == {"format": "json", "via": "page"}


def test_portability_the_copy_as_csv_files_in_a_zip(clinic_a, booked, member_client):
    _, owner = member_client(clinic_a, Role.ADMIN)
    _record(owner, clinic_a, booked, "portability")
    response = owner.get(_url(clinic_a, booked, "copy.zip"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "subject@example.test" in archive.read("client.csv").decode()
    assert archive.read("appointments.csv").decode().count("\n") == 2  # header and one row


def test_rectification_the_record_is_edited_and_the_change_recorded(
    clinic_a, booked, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    _record(owner, clinic_a, booked, "rectification")
    edited = owner.post(
        f"/c/{clinic_a.slug}/clients/{booked.pk}/edit/",
        {
            "full_name": "Page Subject",
            "email": "corrected@example.test",
            "preferred_language": "en",
        },
    )
    assert edited.status_code == 302
    request = _only_request(clinic_a)
    owner.post(f"/c/{clinic_a.slug}/privacy/requests/{request.pk}/close/", {"status": "done"})
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=booked.pk).email == "corrected@example.test"
        assert AuditEvent.objects.filter(action=Action.CLIENT_UPDATED).count() == 1
    assert _only_request(clinic_a).status == RequestStatus.DONE


def test_restriction_and_lifting_it_only_once_the_client_was_told(clinic_a, booked, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    _record(owner, clinic_a, booked, "restriction")
    assert owner.post(_url(clinic_a, booked, "restrict/")).status_code == 302
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=booked.pk).restricted
    assert _only_request(clinic_a).status == RequestStatus.DONE  # restricting answered it
    page = owner.get(f"/c/{clinic_a.slug}/clients/{booked.pk}/").content.decode()
    assert "read-only" in page and f"/clients/{booked.pk}/edit/" not in page

    refused = owner.post(_url(clinic_a, booked, "lift/"), {})
    assert refused.status_code == 400
    assert "The client was told" in refused.content.decode()
    with clinic_context(clinic_a):
        assert Client.objects.get(pk=booked.pk).restricted
    assert owner.post(_url(clinic_a, booked, "lift/"), {"client_told": "on"}).status_code == 302
    with clinic_context(clinic_a):
        assert not Client.objects.get(pk=booked.pk).restricted


def test_erasure_needs_the_confirmation_and_keeps_the_appointment(clinic_a, booked, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    _record(owner, clinic_a, booked, "erasure")
    assert owner.post(_url(clinic_a, booked, "erase/"), {}).status_code == 400
    with clinic_context(clinic_a):
        assert Client.objects.filter(pk=booked.pk).exists()
    erased = owner.post(_url(clinic_a, booked, "erase/"), {"understood": "on"})
    assert erased.status_code == 302 and erased["Location"].endswith("/privacy/requests/")
    with clinic_context(clinic_a):
        assert not Client.objects.filter(pk=booked.pk).exists()
        assert Appointment.objects.filter(client__isnull=True).count() == 1
    request = _only_request(clinic_a)
    assert request.status == RequestStatus.DONE and request.client_id is None
    listing = owner.get(f"/c/{clinic_a.slug}/privacy/requests/").content.decode()
    assert '<span class="muted">erased</span>' in listing and "Page Subject" not in listing


def test_the_clinics_list_puts_overdue_requests_first_and_marks_them(
    clinic_a, booked, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    _record(owner, clinic_a, booked, "access", received=_today(clinic_a))
    _record(owner, clinic_a, booked, "erasure", received=_today(clinic_a) - dt.timedelta(days=40))
    html = owner.get(f"/c/{clinic_a.slug}/privacy/requests/").content.decode()
    assert html.index("Erasure: delete their data") < html.index("Access: a copy of their data")
    assert html.count('class="overdue"') == 1 and "overdue</span>" in html
    bad = _record(owner, clinic_a, booked, "access", received=_today(clinic_a) + dt.timedelta(1))
    assert bad.status_code == 400 and "after today" in bad.content.decode()
    with clinic_context(clinic_a):
        assert SubjectRequest.objects.count() == 2


def test_a_client_asks_from_their_manage_link_and_the_clinic_sees_it(
    clinic_a, booked, member_client, client
):
    from bookwell.bookings import manage_links

    with clinic_context(clinic_a):
        appointment = Appointment.objects.get(client=booked)
        token = manage_links.issue(appointment)
    url = f"/book/{clinic_a.slug}/manage/{token}/"
    page = client.get(url).content.decode()
    assert "Send me my data" in page and "Delete my data" in page
    asked = client.post(url + "privacy/", {"kind": "erasure"})
    assert asked.status_code == 302 and "asked=erasure" in asked["Location"]
    assert "delete your data" in client.get(asked["Location"]).content.decode()
    client.post(url + "privacy/", {"kind": "erasure"})  # a second click records nothing new
    assert client.post(url + "privacy/", {"kind": "gossip"}).status_code == 400
    with clinic_context(clinic_a):
        request = SubjectRequest.objects.get()
    assert (request.kind, request.source, request.client_id) == ("erasure", "client", booked.pk)
    assert client.cookies == {} or not any(c.value for c in client.cookies.values())  # P19
    _, owner = member_client(clinic_a, Role.OWNER)
    listing = owner.get(f"/c/{clinic_a.slug}/privacy/requests/").content.decode()
    assert "Page Subject" in listing and "Erasure: delete their data" in listing


def test_a_request_left_open_after_an_erasure_can_be_closed_from_the_list(
    clinic_a, booked, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    _record(owner, clinic_a, booked, "access")
    _record(owner, clinic_a, booked, "erasure")
    assert owner.post(_url(clinic_a, booked, "erase/"), {"understood": "on"}).status_code == 302
    with clinic_context(clinic_a):
        access = SubjectRequest.objects.get(kind="access")
    assert access.status == RequestStatus.OPEN and access.client_id is None
    listing = owner.get(f"/c/{clinic_a.slug}/privacy/requests/").content.decode()
    assert f"/privacy/requests/{access.pk}/close/" in listing
    owner.post(f"/c/{clinic_a.slug}/privacy/requests/{access.pk}/close/", {"status": "done"})
    with clinic_context(clinic_a):
        assert SubjectRequest.objects.get(pk=access.pk).status == RequestStatus.DONE
