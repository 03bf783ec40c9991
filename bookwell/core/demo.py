"""The demo clinic, seeded by `bookwell demo` (idempotent). Later issues add their data here."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from bookwell.accounts.models import User
from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Role

_BERLIN = ZoneInfo("Europe/Berlin")
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


DEMO_SERVICES = [
    # name, minutes, buffer after, price in cents, needs a treatment room
    ("First consultation", 60, 10, 9000, True),
    ("Follow-up", 30, 5, 6000, True),
    ("Sports massage", 45, 15, 7000, True),
    ("Physiotherapy", 30, 10, 6500, True),
    ("Osteopathy", 50, 10, 9500, True),
    ("Nutrition advice", 45, 0, 5500, False),
    ("Video check-in", 20, 0, 3000, False),
    ("Back class (group)", 60, 10, 2000, False),
]


def _seed_schedule(clinic: Clinic, practitioners: list[User]) -> None:
    import datetime as dt

    from django.utils import timezone

    from bookwell.scheduling.models import (
        Location,
        Room,
        Service,
        StaffMember,
        TimeOff,
        WorkingHours,
    )

    if Location.objects.exists():  # seeded before: only the weeks around today are topped up
        _seed_bookings(
            clinic,
            list(
                StaffMember.objects.filter(
                    user__isnull=False, archived=False, bookable=True
                ).order_by("pk")
            ),
            list(Service.objects.filter(archived=False).order_by("pk")),
        )
        return
    centre = Location.objects.create(
        clinic=clinic, name="Mitte", address="Torstraße 1, Berlin", time_zone="Europe/Berlin"
    )
    west = Location.objects.create(
        clinic=clinic,
        name="Charlottenburg",
        address="Kantstraße 2, Berlin",
        time_zone="Europe/Berlin",
    )
    rooms = [
        Room.objects.create(clinic=clinic, location=centre, name="Treatment 1"),
        Room.objects.create(clinic=clinic, location=centre, name="Treatment 2"),
        Room.objects.create(clinic=clinic, location=west, name="Treatment 3"),
        Room.objects.create(clinic=clinic, location=centre, name="Studio", capacity=12),
    ]
    staff = [
        StaffMember.objects.create(clinic=clinic, user=user, display_name=user.full_name)
        for user in practitioners
    ]
    services = []
    for name, minutes, after, price, needs_room in DEMO_SERVICES:
        service = Service.objects.create(
            clinic=clinic,
            name=name,
            duration_min=minutes,
            buffer_after_min=after,
            price_cents=price,
            slot_interval_min=15 if minutes < 60 else 30,
            capacity=12 if "group" in name else 1,
        )
        service.staff.set(staff, through_defaults={"clinic": clinic})
        if needs_room:
            service.rooms.set(rooms[:3], through_defaults={"clinic": clinic})
        elif "group" in name:
            service.rooms.set(rooms[3:], through_defaults={"clinic": clinic})
        services.append(service)
    for i, member in enumerate(staff):
        location = centre if i < 2 else west
        for weekday in range(5):
            WorkingHours.objects.create(
                clinic=clinic,
                staff=member,
                location=location,
                weekday=weekday,
                start_min=8 * 60 + 30 * i,
                end_min=12 * 60 + 30,
            )
            WorkingHours.objects.create(
                clinic=clinic,
                staff=member,
                location=location,
                weekday=weekday,
                start_min=13 * 60 + 30,
                end_min=18 * 60,
            )
    today = timezone.localdate()
    TimeOff.objects.create(
        clinic=clinic,
        staff=staff[1],
        start=dt.datetime.combine(today + dt.timedelta(days=10), dt.time(), dt.UTC),
        end=dt.datetime.combine(today + dt.timedelta(days=15), dt.time(), dt.UTC),
        category="vacation",
    )
    _seed_bookings(clinic, staff, services)


def _seed_bookings(clinic: Clinic, staff: list[Any], services: list[Any]) -> None:
    """A believable four weeks behind and three ahead: every weekday without bookings gets
    about twenty (so a demo started again weeks later still shows a full week)."""
    import datetime as dt

    from django.utils import timezone

    from bookwell.bookings.models import Appointment, Status
    from bookwell.bookings.services import (
        BookingRequest,
        appointment_book,
        appointment_set_status,
    )
    from bookwell.clients.models import Client
    from bookwell.core.errors import ServiceError

    if not staff or len(services) < 7:
        return
    today = timezone.localdate()
    lo = dt.datetime.combine(today - dt.timedelta(days=28), dt.time(), _BERLIN)
    hi = dt.datetime.combine(today + dt.timedelta(days=21), dt.time(), _BERLIN)
    booked_days = {
        start.astimezone(_BERLIN).date()
        for start in Appointment.objects.filter(start__gte=lo, start__lt=hi).values_list(
            "start", flat=True
        )
    }
    rng = random.Random(11)  # noqa: S311 (demo data)
    clients = list(Client.objects.order_by("created_at")[:200])
    now = timezone.now()
    for day_offset in range(-28, 21):
        day = today + dt.timedelta(days=day_offset)
        if day.weekday() >= 5 or day in booked_days:
            continue
        for _ in range(22):
            service = rng.choice(services[:7])
            member = rng.choice(staff)
            hour = rng.choice([8, 9, 10, 11, 14, 15, 16, 17])
            minute = rng.choice([0, 15, 30, 45])
            start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=_BERLIN)
            try:
                appointment = appointment_book(
                    clinic=clinic,
                    request=BookingRequest(
                        service=service, staff=member, start=start, client=rng.choice(clients)
                    ),
                    notify=False,  # demo history: no mail for it
                )
            except ServiceError:  # taken, away, or changed by someone trying the demo
                continue
            # A believable history: most came, a few did not, some cancelled.
            roll = rng.random()
            if roll < 0.07:
                appointment_set_status(
                    appointment=appointment, status=Status.CANCELLED_BY_CLIENT, notify=False
                )
            elif roll < 0.09:
                appointment_set_status(
                    appointment=appointment, status=Status.CANCELLED_BY_CLINIC, notify=False
                )
            elif appointment.end < now:
                if roll < 0.13:
                    appointment_set_status(appointment=appointment, status=Status.NO_SHOW)
                else:
                    appointment_set_status(appointment=appointment, status=Status.CHECKED_IN)
                    appointment_set_status(appointment=appointment, status=Status.COMPLETED)


def seed_demo() -> Clinic:
    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={
                "name": "Demo Clinic",
                "time_zone": "Europe/Berlin",
                "country": "DE",
                "contact_email": "hello@demo.bookwell.test",
                "plan": "standard" if "standard" in settings.PLANS else settings.DEFAULT_PLAN,
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
            practitioners = [
                User.objects.get(email__iexact=s.email)
                for s in DEMO_USERS
                if s.role == Role.PRACTITIONER
            ]
            _seed_schedule(clinic, practitioners)
            _seed_notifications(clinic)
    return clinic


def _seed_notifications(clinic: Clinic) -> None:
    """A reminder the day before, by email, quiet nights and the staff's morning agenda: what a
    clinic would set first."""
    import datetime as dt

    from bookwell.notifications.models import ReminderRule

    ReminderRule.objects.get_or_create(clinic=clinic, minutes_before=24 * 60, channel="email")
    if clinic.quiet_start is None:
        clinic.quiet_start, clinic.quiet_end = dt.time(21, 0), dt.time(8, 0)
        clinic.agenda_at = dt.time(7, 0)  # staff who sign in get their day at seven
        clinic.save(update_fields=["quiet_start", "quiet_end", "agenda_at"])
