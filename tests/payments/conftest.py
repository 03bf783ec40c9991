"""The public booking tests' clinic set-up (two staff members, weekday hours), shared."""

from tests.bookings.test_public_booking import setup  # noqa: F401
