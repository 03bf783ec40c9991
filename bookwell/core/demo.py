"""The demo clinic, seeded by `bookwell demo` (idempotent). Later issues add their data here."""

from __future__ import annotations

import random
import re
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


FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elif",
    "Finn",
    "Greta",
    "Hamza",
    "Ines",
    "Jonas",
    "Katarzyna",
    "Lars",
    "Maya",
    "Noah",
    "Olga",
    "Paul",
    "Quentin",
    "Rosa",
    "Sofia",
    "Tobias",
    "Ulla",
    "Vincent",
    "Wiebke",
    "Xenia",
    "Yusuf",
    "Zoé",
    "Chloé",
    "Jürgen",
    "Añja",
    "Søren",
    "Mehmet",
    "Aisha",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Yılmaz",  # noqa: RUF001 (a real Turkish name)
    "Kowalski",
    "Nguyen",
    "Rossi",
    "García",
    "Dubois",
    "O'Brien",
    "Novak",
    "Jensen",
    "Öztürk",
    "Bauer",
    "Lehmann",
    "Krüger",
]
DEMO_CLIENTS = 200


def _seed_clients(clinic: Clinic) -> None:
    from bookwell.clients.models import Client, ConsentMethod
    from bookwell.clients.normalize import fold
    from bookwell.clients.services import (
        ClientInput,
        client_create,
        privacy_notice_current,
        privacy_notice_publish,
    )

    rng = random.Random(2026)  # noqa: S311 (demo data, not security)
    notice = privacy_notice_current(clinic=clinic) or privacy_notice_publish(
        clinic=clinic,
        body=(
            "Demo Clinic keeps your name and contact details to manage your appointments and "
            "to remind you of them. We share them with nobody else. You can ask us at any time "
            "for a copy, a correction or their deletion."
        ),
    )
    existing = Client.objects.count()
    for i in range(DEMO_CLIENTS):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        with_phone = rng.random() < 0.8
        data = ClientInput(
            full_name=f"{first} {last}",
            email=re.sub(r"[^a-z0-9.]", "", fold(f"{first}.{last}.{i}")) + "@example.com"
            if rng.random() < 0.9
            else "",
            phone=f"+49 151 {rng.randint(10000000, 99999999)}" if with_phone else "",
            preferred_language=rng.choice(["de", "de", "en", "fr"]),
            marketing_consent=rng.random() < 0.3,
        )
        if i < existing:
            continue  # idempotent: only the missing ones are added
        consenting = i % 3 == 0
        client_create(
            clinic=clinic,
            data=data,
            consent_notice=notice if consenting else None,
            consent_method=ConsentMethod.ONLINE,
        )


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
            _seed_clients(clinic)
    return clinic
