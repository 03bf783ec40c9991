"""Clients' rights (P17) at the service level: requests with due dates, the client's copy,
erasure (sentinels gone everywhere, statistics kept) and restriction."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.utils import timezone

from bookwell.audit.models import Action, AuditEvent
from bookwell.bookings.models import Appointment, Status, WaitlistEntry
from bookwell.bookings.reports import overview
from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.bookings.waitlist import waitlist_join
from bookwell.clients import blind
from bookwell.clients.models import Client, ClientIndex, ConsentRecord, IndexKind
from bookwell.clients.services import (
    ClientInput,
    client_create,
    client_update,
    consent_record,
    privacy_notice_publish,
)
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import Conflict, ServiceError
from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint
from bookwell.notifications.models import Delivery
from bookwell.privacy.models import RequestKind, RequestStatus, SubjectRequest
from bookwell.privacy.services import (
    client_copy,
    client_copy_download,
    client_erase,
    client_restrict,
    client_unrestrict,
    subject_request_close,
    subject_request_record,
)
from bookwell.tenancy import keyring
from bookwell.tenancy.fields import EncryptedTextField, Sealed, open_stored
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

NAME, EMAIL, PHONE = "Zelda Sentinelova", "zelda.sentinel@example.test", "+4915112345678"
NOTE = "sentinel-note-7731"


def _client_with_history(clinic):
    """A client with a future and a past appointment, a place on the waitlist, a consent
    and the confirmations the outbox recorded."""
    setup = schedule(clinic)
    with clinic_context(clinic):
        WebhookEndpoint.objects.create(
            clinic=clinic,
            url="https://hooks.example.test/in",
            events=["client.created", "appointment.created", "appointment.cancelled"],
            secret="whsec_rights",
        )
        client = client_create(
            clinic=clinic,
            data=ClientInput(full_name=NAME, email=EMAIL, phone=PHONE, note=NOTE),
        )
        notice = privacy_notice_publish(clinic=clinic, body="We keep your data safe.")
        consent_record(clinic=clinic, client=client, notice=notice, method="staff")
        soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
        for start in (soon, soon - dt.timedelta(days=30)):
            appointment_book(
                clinic=clinic,
                request=BookingRequest(
                    service=setup.service,
                    staff=setup.staff,
                    start=start,
                    client=client,
                    note=NOTE,
                ),
            )
        waitlist_join(
            clinic=clinic,
            client=client,
            service=setup.service,
            first_day=soon.date(),
            last_day=soon.date() + dt.timedelta(days=7),
        )
    return setup, client


def test_a_request_is_due_a_month_after_it_came_in_and_closes_once(clinic_a):
    _setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        # The clinic's own date, as the service reckons it (UTC's can be a day behind).
        today = timezone.localdate(timezone=ZoneInfo(clinic_a.time_zone))
        received = today - dt.timedelta(days=3)
        request = subject_request_record(
            clinic=clinic_a, client=client, kind=RequestKind.ACCESS, received_on=received
        )
        assert request.due_on == received + dt.timedelta(days=30)
        with pytest.raises(ServiceError):
            subject_request_record(clinic=clinic_a, client=client, kind="gossip")
        with pytest.raises(ServiceError):
            subject_request_record(
                clinic=clinic_a,
                client=client,
                kind=RequestKind.ACCESS,
                received_on=today + dt.timedelta(days=1),
            )
        assert SubjectRequest.objects.count() == 1  # nothing written by the refusals
        closed = subject_request_close(clinic=clinic_a, request=request)
        assert closed.status == RequestStatus.DONE and closed.completed_at is not None
        with pytest.raises(Conflict):
            subject_request_close(clinic=clinic_a, request=request)
        actions = list(AuditEvent.objects.values_list("action", "extra"))
    assert (Action.PRIVACY_REQUEST_RECORDED, {"kind": "access", "source": "staff"}) in actions
    assert (Action.PRIVACY_REQUEST_CLOSED, {"kind": "access", "status": "done"}) in actions


def test_the_copy_holds_everything_about_the_client_and_nobody_else(clinic_a):
    setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        other = client_create(clinic=clinic_a, data=ClientInput(full_name="Other Person"))
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.other_staff,
                start=dt.datetime.now(dt.UTC) + dt.timedelta(days=5),
                client=other,
            ),
        )
        copy = client_copy(clinic=clinic_a, client=client)
        body, media = client_copy_download(clinic=clinic_a, client=client, fmt="zip")
    data = copy["data"]
    assert data["client"][0]["full_name"] == NAME
    assert (data["client"][0]["email"], data["client"][0]["phone"]) == (EMAIL, PHONE)
    assert len(data["appointments"]) == 2
    assert {a["note"] for a in data["appointments"]} == {NOTE}
    # Each appointment as the clinic holds it: room, series and cancel reason too.
    assert {"room__name", "series_id", "cancel_reason"} <= set(data["appointments"][0])
    assert data["payments"] == [] and data["refunds"] == []
    assert len(data["waitlist"]) == 1 and len(data["consents"]) == 1
    assert "Other Person" not in json.dumps(copy)
    assert media == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert {"data.json", "client.csv", "appointments.csv"} <= set(archive.namelist())
    assert EMAIL in archive.read("client.csv").decode()
    assert json.loads(archive.read("data.json"))["data"]["client"][0]["id"] == str(client.pk)


def _every_text_value(leave_out: tuple[type, ...] = ()) -> list[str]:
    """Every text and JSON value in every table, sealed values opened with the keys the
    system holds."""
    found: list[str] = []
    with platform_scope("test: a scan of every table"):
        for model in apps.get_models():
            if issubclass(model, leave_out):
                continue
            text = [
                f
                for f in model._meta.concrete_fields
                if f.get_internal_type() in ("CharField", "TextField", "JSONField")
                or isinstance(f, EncryptedTextField)
            ]
            if not text:
                continue
            for row in model._base_manager.all().values("pk", *[f.attname for f in text]):
                for f in text:
                    value = row[f.attname]
                    if isinstance(value, Sealed):
                        clinic_id = model._base_manager.filter(pk=row["pk"]).values_list(
                            "clinic_id", flat=True
                        )[0]
                        with clinic_context(clinic_id):
                            value = open_stored(model, f.name, clinic_id, row["pk"], value)
                    found.append(json.dumps(value) if not isinstance(value, str) else value)
    return found


def test_after_erasure_no_table_holds_the_client_and_the_statistics_still_count(clinic_a):
    _setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        request = subject_request_record(clinic=clinic_a, client=client, kind=RequestKind.ERASURE)
        assert Delivery.objects.filter(appointment__client=client).exists()
        booked = Appointment.objects.count()
        counted = overview(clinic=clinic_a).total
        assert WebhookDelivery.objects.filter(payload__data__client_id=str(client.pk)).exists()
    assert any(NAME in v or NOTE in v for v in _every_text_value())  # the scan sees them

    with clinic_context(clinic_a):
        touched = client_erase(clinic=clinic_a, client=client, request=request)
    assert touched["client"] == 1 and touched["appointments"] == 2

    values = _every_text_value()
    for sentinel in (NAME, EMAIL, PHONE, NOTE, "Sentinelova", "15112345678"):
        assert not any(sentinel in v for v in values), sentinel
    # Not even the client's id, outside the audit trail (ids only, append-only: P5, P7).
    assert not any(str(client.pk) in v for v in _every_text_value(leave_out=(AuditEvent,)))
    with clinic_context(clinic_a):
        assert not Client.objects.filter(pk=client.pk).exists()
        for kind, value in ((IndexKind.EMAIL, EMAIL), (IndexKind.PHONE, PHONE)):
            assert not blind.matching_entries(clinic_id=clinic_a.pk, kind=kind, value=value)
        assert ClientIndex.objects.count() == 0
        assert WaitlistEntry.objects.count() == 0
        assert Delivery.objects.filter(appointment__isnull=False).count() == 0
        # Kept for the clinic's statistics, without the client or a way to manage them.
        assert Appointment.objects.count() == booked
        # The past one as it was; the upcoming one cancelled, so its time is free again.
        assert sorted(Appointment.objects.values_list("status", flat=True)) == [
            Status.CANCELLED_BY_CLIENT,
            Status.CONFIRMED,
        ]
        # Its cancellation went out to the clinic's integrations (without the client), and
        # no message to the client.
        cancelled = Appointment.objects.get(status=Status.CANCELLED_BY_CLIENT)
        event = WebhookDelivery.objects.get(event="appointment.cancelled")
        assert event.payload["data"]["id"] == str(cancelled.pk)
        assert event.payload["data"]["client_id"] is None
        assert not Delivery.objects.filter(kind="cancellation").exists()
        assert overview(clinic=clinic_a).total == counted >= 1  # the clinic's statistics
        assert not Appointment.objects.filter(client__isnull=False).exists()
        assert not Appointment.objects.exclude(manage_token_hash=None).exists()
        assert ConsentRecord.objects.filter(client__isnull=True).count() == 1
        request.refresh_from_db()
        assert request.status == RequestStatus.DONE and request.client_id is None
        erased = AuditEvent.objects.get(action=Action.CLIENT_ERASED)
    assert erased.target_id == str(client.pk) and erased.extra["rows"] >= 6


def test_erasure_leaves_other_clients_and_other_clinics_alone(clinic_a, clinic_b):
    _setup, client = _client_with_history(clinic_a)
    _setup_b, client_b = _client_with_history(clinic_b)
    with clinic_context(clinic_a):
        neighbour = client_create(clinic=clinic_a, data=ClientInput(full_name="Neighbour"))
        client_erase(clinic=clinic_a, client=client)
        assert list(Client.objects.values_list("pk", flat=True)) == [neighbour.pk]
    with clinic_context(clinic_b):
        assert Client.objects.get(pk=client_b.pk).email == EMAIL
        assert Appointment.objects.filter(client=client_b).count() == 2


def test_restriction_stops_bookings_and_edits_and_is_lifted_only_once_the_client_was_told(
    clinic_a,
):
    setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        request = subject_request_record(
            clinic=clinic_a, client=client, kind=RequestKind.RESTRICTION
        )
        client_restrict(clinic=clinic_a, client=client, request=request)
        assert Client.objects.get(pk=client.pk).restricted
        request.refresh_from_db()
        assert request.status == RequestStatus.DONE
        with pytest.raises(Conflict):
            client_restrict(clinic=clinic_a, client=client)
        with pytest.raises(ServiceError):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service,
                    staff=setup.staff,
                    start=dt.datetime.now(dt.UTC) + dt.timedelta(days=9),
                    client=Client.objects.get(pk=client.pk),
                ),
            )
        with pytest.raises(Conflict):  # read-only, even from a copy read before
            client_update(clinic=clinic_a, client=client, data=ClientInput(full_name="Changed"))
        with pytest.raises(ServiceError):
            client_unrestrict(clinic=clinic_a, client=client, client_told=False)
        assert Client.objects.get(pk=client.pk).restricted
        client_unrestrict(clinic=clinic_a, client=client, client_told=True)
        assert not Client.objects.get(pk=client.pk).restricted
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {Action.CLIENT_RESTRICTED, Action.CLIENT_RESTRICTION_LIFTED} <= actions


def test_keys_are_untouched_by_an_erasure(clinic_a):
    """An erasure removes one client, not the clinic's ability to read the others."""
    _setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        other = client_create(clinic=clinic_a, data=ClientInput(full_name="Still Readable"))
        client_erase(clinic=clinic_a, client=client)
        keyring.forget_cached_keys()
        assert Client.objects.get(pk=other.pk).full_name == "Still Readable"
        assert Appointment.objects.filter(status=Status.CONFIRMED).exists()


@pytest.mark.parametrize("source", ["staff", "online"])
def test_a_booking_rereads_the_client_inside_its_transaction(clinic_a, source):
    """A restriction or an erasure that lands after the caller read the client (a page open
    for a while, a concurrent request) still stops the booking: the service reads the row
    again, and holds it, in its own transaction."""
    setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        stale = Client.objects.get(pk=client.pk)  # read before the restriction
        client_restrict(clinic=clinic_a, client=client)
        assert not stale.restricted
        booking = BookingRequest(
            service=setup.service,
            staff=setup.staff,
            start=dt.datetime.now(dt.UTC) + dt.timedelta(days=9),
            client=stale,
            source=source,
        )
        before = Appointment.objects.count()
        with pytest.raises(ServiceError) as refused:
            appointment_book(clinic=clinic_a, request=booking)
        assert refused.value.code == "client_restricted"
        client_unrestrict(clinic=clinic_a, client=client, client_told=True)
        client_erase(clinic=clinic_a, client=client)
        with pytest.raises(Conflict) as erased:
            appointment_book(clinic=clinic_a, request=booking)
        assert erased.value.code == "client_erased"
        assert Appointment.objects.count() == before


def test_joining_the_waitlist_rereads_the_client(clinic_a):
    setup, client = _client_with_history(clinic_a)
    with clinic_context(clinic_a):
        stale = Client.objects.get(pk=client.pk)
        client_restrict(clinic=clinic_a, client=client)
        day = dt.date.today() + dt.timedelta(days=10)
        with pytest.raises(ServiceError) as refused:
            waitlist_join(
                clinic=clinic_a, client=stale, service=setup.service, first_day=day, last_day=day
            )
        assert refused.value.code == "client_restricted"
        client_unrestrict(clinic=clinic_a, client=client, client_told=True)
        client_erase(clinic=clinic_a, client=client)
        with pytest.raises(Conflict) as erased:
            waitlist_join(
                clinic=clinic_a, client=stale, service=setup.service, first_day=day, last_day=day
            )
        assert erased.value.code == "client_erased"
