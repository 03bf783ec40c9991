"""SMS: Twilio receives the number, the sender and the text, nothing else (P13); only clients
who gave a number and did not opt out get one, only where the clinic sends SMS."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioClient

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import channels, services
from bookwell.notifications.models import Channel, Delivery, DeliveryStatus, SkipReason
from tests.bookings.factories import schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)


class CapturingHttp(HttpClient):
    """Stands in for the network: records what would go over the wire."""

    def __init__(self, status: int = 201) -> None:
        super().__init__(logging.getLogger("test.twilio"), False)
        self.requests: list[dict[str, Any]] = []
        self.status = status

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **kw):
        self.requests.append(
            {
                "method": method,
                "url": uri,
                "params": params,
                "data": data,
                "headers": dict(headers or {}),
                "auth": auth,
            }
        )
        if self.status >= 400:
            body = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": self.status}
            return Response(self.status, json.dumps(body))
        return Response(self.status, json.dumps({"sid": "SM123", "status": "queued"}))


def _twilio(http: CapturingHttp) -> channels.TwilioSms:
    client = TwilioClient("AC" + "0" * 32, "secret-token", http_client=http)
    return channels.TwilioSms(
        account_sid="AC" + "0" * 32, auth_token="x", sender="+4930999999", client=client
    )


def test_twilio_receives_the_number_the_sender_and_the_text_only():
    http = CapturingHttp()
    sid = _twilio(http).send(to="+4917612345678", text="Hello", idempotency_key="k1")

    assert sid == "SM123"
    [request] = http.requests
    assert request["method"] == "POST"
    url = urlparse(request["url"])
    assert (url.scheme, url.hostname) == ("https", "api.twilio.com")
    assert url.path == f"/2010-04-01/Accounts/AC{'0' * 32}/Messages.json" and not url.query
    assert request["data"] == {"To": "+4917612345678", "From": "+4930999999", "Body": "Hello"}
    assert not request["params"]
    # Headers carry the client library's own, the account's credentials, nothing of the client.
    sent = " ".join(f"{k}: {v}" for k, v in request["headers"].items())
    assert "+4917612345678" not in sent and "Hello" not in sent
    assert request["auth"] == ("AC" + "0" * 32, "secret-token")


def test_a_refused_number_is_a_permanent_failure_without_the_number_in_the_code():
    with pytest.raises(channels.SendError) as refused:
        _twilio(CapturingHttp(status=400)).send(to="+49", text="Hi", idempotency_key="k")
    assert refused.value.permanent
    assert "+49" not in refused.value.code and "Hi" not in refused.value.code


def test_sms_go_only_where_the_clinic_sends_them_to_clients_who_did_not_opt_out(
    clinic_a, clock, monkeypatch
):
    setup = schedule(clinic_a)
    http = CapturingHttp()
    monkeypatch.setattr(channels, "sms_provider", lambda: _twilio(http))
    with clinic_context(clinic_a):
        clinic_a.sms_enabled = True
        clinic_a.save()
        wants = client_create(
            clinic=clinic_a, data=ClientInput(full_name="Sam Sms", phone="+49 176 12345678")
        )
        declined = client_create(
            clinic=clinic_a, data=ClientInput(full_name="No Sms", phone="+49 176 87654321")
        )
        declined.sms_opt_out = True
        declined.save()
        day = dt.date(2031, 3, 25)
        for hour, client in ((10, wants), (11, declined)):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service,
                    staff=setup.staff,
                    start=dt.datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN),
                    client=client,
                ),
            )

    services.dispatch_due()

    [request] = http.requests
    assert request["data"]["To"] == "+4917612345678"
    assert set(request["data"]) == {"To", "From", "Body"}
    assert "Massage" in request["data"]["Body"] and "Sam Sms" not in request["data"]["Body"]
    with clinic_context(clinic_a):
        sms = {d.appointment.client_id: d for d in Delivery.objects.filter(channel=Channel.SMS)}
    assert sms[wants.pk].status == DeliveryStatus.SENT
    assert sms[wants.pk].provider_message_id == "SM123"
    assert sms[declined.pk].skip_reason == SkipReason.OPTED_OUT
