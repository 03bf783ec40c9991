"""The payments tests' clinic: the public booking tests' set-up (two staff members, weekday
hours), with payments turned on."""

import pytest

from bookwell.core.context import clinic_context
from bookwell.payments.models import PaymentSettings
from bookwell.scheduling.models import PaymentTerms
from tests.bookings import test_public_booking

setup = test_public_booking.setup  # the fixture, shared
WHSEC = "whsec_" + "t" * 24


@pytest.fixture
def paid(clinic_a, setup):
    """Clinic A takes payments; its service asks a 30 % deposit of 80.00 EUR."""
    with clinic_context(clinic_a):
        PaymentSettings.objects.create(
            clinic=clinic_a, enabled=True, secret_key="sk_test_" + "a" * 24, webhook_secret=WHSEC
        )
        setup.service.price_cents = 8000
        setup.service.payment = PaymentTerms.DEPOSIT_PERCENT
        setup.service.deposit_percent = 30
        setup.service.save()
    return setup
