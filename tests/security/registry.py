"""The route registry shared by the cross-clinic, role-matrix and junk-input suites.

Every URL pattern of the project must be listed here in exactly one group; a test fails when
a new route is missing. Clinic routes that take an object id carry a factory that creates
such an object inside a given clinic, so the cross-clinic suite can ask for it from another
clinic (P1), and the role matrix can exercise every role on it (P2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bookwell.clients.services import (
    ClientInput,
    client_create,
    consent_record,
    privacy_notice_current,
    privacy_notice_publish,
)
from bookwell.core.context import clinic_context
from bookwell.core.tokens import new_token
from bookwell.tenancy.models import Clinic, Invitation, Membership
from bookwell.tenancy.permissions import Role
from tests.factories import UserFactory, make_member

# Routes anyone may open (no sign-in).
PUBLIC_ROUTES = {
    "landing",
    "healthz",
    "accounts:signin",
    "accounts:signin-verify",
    "accounts:signout",
    "accounts:password-reset",
    "accounts:password-reset-sent",
    "accounts:password-reset-confirm",
    "tenancy:signup",
    "tenancy:invitation",
    # --- Public booking page and manage link (book:) ---
    # --- end public booking ---
}

# Routes for any signed-in user, outside a clinic.
ACCOUNT_ROUTES = {
    "accounts:account",
    "accounts:password-change",
    "accounts:mfa",
    "accounts:mfa-disable",
    "accounts:recovery-codes",
    "accounts:signout-everywhere",
    "tenancy:choose",
}


def _membership(clinic: Clinic) -> dict[str, Any]:
    user = make_member(clinic, Role.PRACTITIONER)
    with clinic_context(clinic):
        return {"membership_id": Membership.objects.get(user=user).pk}


def _invitation(clinic: Clinic) -> dict[str, Any]:
    inviter = UserFactory()
    with clinic_context(clinic):
        inv = Invitation.objects.create(
            clinic=clinic,
            email=f"invitee-{inviter.pk}@example.test",
            role=Role.READ_ONLY,
            token_hash=new_token()[1],
            invited_by=inviter,
            expires_at=timezone.now() + timedelta(days=3),
        )
    return {"invitation_id": inv.pk}


def _settings_form(clinic: Clinic) -> dict[str, Any]:
    return {
        "name": clinic.name + " renamed",
        "contact_email": "desk@example.test",
        "time_zone": "Europe/Paris",
        "country": "FR",
        "locale": "fr",
    }


@dataclass(frozen=True)
class ClinicRoute:
    """A staff route inside /c/<clinic_slug>/.

    `objects` creates the object(s) the route takes by id inside a clinic and returns the URL
    kwargs; `post` gives valid form data (None: GET-only page).
    """

    objects: Callable[[Clinic], dict[str, Any]] | None = None
    post: Callable[[Clinic], dict[str, Any]] | None = None
    get: bool = True
    success_status: frozenset[int] = field(default_factory=lambda: frozenset({200, 302}))


def _client_form(clinic: Clinic) -> dict[str, Any]:
    return {
        "full_name": "Formed Client",
        "email": f"formed-{uuid4().hex[:8]}@example.test",
        "phone": "+49 30 1234567",
        "preferred_language": "de",
    }


def _import_upload(clinic: Clinic) -> dict[str, Any]:
    body = f"full_name,email\nImported Person,imp-{uuid4().hex[:8]}@example.test\n".encode()
    return {"file": SimpleUploadedFile("clients.csv", body, "text/csv"), "action": "import"}


def _client(clinic: Clinic) -> dict[str, Any]:
    with clinic_context(clinic):
        client = client_create(
            clinic=clinic,
            data=ClientInput(
                full_name="Registry Client", email=f"rc-{uuid4().hex[:8]}@example.test"
            ),
        )
    return {"client_id": client.pk}


def _consent(clinic: Clinic) -> dict[str, Any]:
    with clinic_context(clinic):
        notice = privacy_notice_publish(clinic=clinic, body="We keep your data safe.")
        client = client_create(clinic=clinic, data=ClientInput(full_name="Consenting Client"))
        record = consent_record(clinic=clinic, client=client, notice=notice, method="staff")
    return {"consent_id": record.pk, "notice_id": notice.pk}


def _schedule(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.scheduling.models import (
        ClinicClosure,
        DateOverride,
        Location,
        Room,
        Service,
        StaffMember,
        TimeOff,
        WorkingHours,
    )

    with clinic_context(clinic):
        location = Location.objects.create(clinic=clinic, name="Loc", time_zone="Europe/Berlin")
        room = Room.objects.create(clinic=clinic, location=location, name="R1")
        staff = StaffMember.objects.create(clinic=clinic, display_name="Staff")
        service = Service.objects.create(clinic=clinic, name="Svc", duration_min=30)
        service.staff.set([staff], through_defaults={"clinic": clinic})
        service.rooms.set([room], through_defaults={"clinic": clinic})
        WorkingHours.objects.create(
            clinic=clinic, staff=staff, location=location, weekday=0, start_min=540, end_min=1020
        )
        day = dt.date(2031, 6, 2)
        DateOverride.objects.create(clinic=clinic, staff=staff, location=location, date=day)
        start = dt.datetime(2031, 6, 3, 9, 0, tzinfo=dt.UTC)
        TimeOff.objects.create(
            clinic=clinic,
            staff=staff,
            start=start,
            end=start + dt.timedelta(hours=2),
            category="training",
        )
        ClinicClosure.objects.create(clinic=clinic, first_day=day, last_day=day)
        appointment = appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=service, staff=staff, start=start + dt.timedelta(days=7)
            ),
        )
        from bookwell.bookings.recurring import series_book

        series, _ = series_book(
            clinic=clinic,
            service=service,
            staff=staff,
            first_start=start + dt.timedelta(days=14),
            count=2,
        )
        from bookwell.bookings.services import appointment_cancel
        from bookwell.bookings.waitlist import waitlist_join

        waiting = client_create(clinic=clinic, data=ClientInput(full_name="Waiting Client"))
        waitlist_join(
            clinic=clinic,
            client=waiting,
            service=service,
            first_day=appointment.start.date() - dt.timedelta(days=1),
            last_day=appointment.start.date() + dt.timedelta(days=1),
        )
        appointment_cancel(appointment=appointment, by_client=False)  # offers it to the waitlist
    return {"appointment_id": appointment.pk, "series_id": series.pk}


# Tenant models and how to put one row of each into a clinic (used by the PostgreSQL RLS
# suite: every tenant table must hold rows of two clinics when it is probed).
TENANT_ROW_FACTORIES: dict[str, Callable[[Clinic], Any]] = {
    "tenancy.Membership": _membership,
    "tenancy.Invitation": _invitation,
    "tenancy.ClinicKey": _client,  # the first sealed field creates the clinic's data key
    "clients.Client": _client,
    "clients.ClientIndex": _client,
    "clients.PrivacyNotice": _consent,
    "clients.ConsentRecord": _consent,
    **{
        f"scheduling.{m}": _schedule
        for m in [
            "Location",
            "Room",
            "StaffMember",
            "Service",
            "ServiceStaff",
            "ServiceRoom",
            "WorkingHours",
            "DateOverride",
            "TimeOff",
            "ClinicClosure",
        ]
    },
    "bookings.Appointment": _schedule,
    "bookings.RecurringSeries": _schedule,
    "bookings.WaitlistEntry": _schedule,
    "bookings.WaitlistOffer": _schedule,
}


def _client_with_notice(clinic: Clinic) -> dict[str, Any]:
    with clinic_context(clinic):
        privacy_notice_publish(clinic=clinic, body="Version for consent.")
    return _client(clinic)


def _current_notice(clinic: Clinic) -> dict[str, Any]:
    # Read-only: the objects factory has published it (post data must not write).
    with clinic_context(clinic):
        notice = privacy_notice_current(clinic=clinic)
    return {"notice": notice.pk if notice else ""}


CLINIC_ROUTES: dict[str, ClinicRoute] = {
    "tenancy:home": ClinicRoute(),
    "tenancy:team": ClinicRoute(),
    "tenancy:settings": ClinicRoute(post=_settings_form),
    "tenancy:team-invite": ClinicRoute(
        get=False, post=lambda c: {"email": "new.person@example.test", "role": Role.FRONT_DESK}
    ),
    "tenancy:team-role": ClinicRoute(
        objects=_membership, get=False, post=lambda c: {"role": Role.READ_ONLY}
    ),
    "tenancy:team-remove": ClinicRoute(objects=_membership, get=False, post=lambda c: {}),
    "tenancy:invitation-revoke": ClinicRoute(objects=_invitation, get=False, post=lambda c: {}),
    "clients:index": ClinicRoute(),
    "clients:new": ClinicRoute(post=_client_form),
    "clients:detail": ClinicRoute(objects=_client),
    "clients:edit": ClinicRoute(objects=_client, post=_client_form),
    "clients:import": ClinicRoute(post=_import_upload),
    "clients:export": ClinicRoute(),
    "clients:consent": ClinicRoute(objects=_client_with_notice, get=False, post=_current_notice),
    "clients:privacy-notices": ClinicRoute(post=lambda c: {"body": "Our new privacy notice."}),
    # --- Catalogue and schedules (scheduling:) ---
    # --- end catalogue and schedules ---
    #
    # --- Calendar and appointments (bookings:) ---
    # --- end calendar and appointments ---
    #
    # --- Settings and overview (tenancy:) ---
    # --- end settings and overview ---
}
