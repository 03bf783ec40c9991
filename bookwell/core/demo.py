"""The demo clinic, seeded by `bookwell demo` (idempotent). Later issues add their data here."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from bookwell.accounts.models import User
from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Role

DEMO_SLUG = "demo"
DEMO_PASSWORD = "bookwell-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: Role


DEMO_USERS = [
    DemoUser("owner@demo.bookwell.test", "Olivia Owner", Role.OWNER),
    DemoUser("admin@demo.bookwell.test", "Adam Admin", Role.ADMIN),
    DemoUser("anna@demo.bookwell.test", "Anna Berger", Role.PRACTITIONER),
    DemoUser("ben@demo.bookwell.test", "Ben Okafor", Role.PRACTITIONER),
    DemoUser("chloe@demo.bookwell.test", "Chloé Martin", Role.PRACTITIONER),
    DemoUser("desk@demo.bookwell.test", "Dana Desk", Role.FRONT_DESK),
]


def seed_demo() -> Clinic:
    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={
                "name": "Demo Clinic",
                "time_zone": "Europe/Berlin",
                "country": "DE",
                "contact_email": "hello@demo.bookwell.test",
            },
        )
        with clinic_context(clinic):
            for spec in DEMO_USERS:
                user = User.objects.filter(email__iexact=spec.email).first()
                if user is None:
                    user = User.objects.create_user(
                        email=spec.email, password=DEMO_PASSWORD, full_name=spec.full_name
                    )
                Membership.objects.update_or_create(
                    clinic=clinic, user=user, defaults={"role": spec.role}
                )
    return clinic
