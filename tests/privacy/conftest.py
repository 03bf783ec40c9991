from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.models import Client
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from tests.bookings.factories import schedule


@pytest.fixture
def booked(clinic_a) -> Client:
    """A client of clinic A with one upcoming appointment."""
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        client = client_create(
            clinic=clinic_a,
            data=ClientInput(full_name="Page Subject", email="subject@example.test"),
        )
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=timezone.now() + dt.timedelta(days=4),
                client=client,
            ),
        )
    return client
