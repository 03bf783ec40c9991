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

# The REST API (namespace api-v1): its operations are covered by the API suites, which walk
# the OpenAPI document (tests/security/test_api_*), so a new operation is covered at once.
API_NAMESPACE = "api-v1:"

# Routes anyone may open (no sign-in).
PUBLIC_ROUTES = {
    "landing",
    "healthz",
    "metrics",  # (404 without the operator token or an allowed network: tests/core/test_metrics.py)
    "readyz",  # (names its checks and their states only: tests/core/test_health.py)
    "privacy-notice",
    "accounts:signin",
    "accounts:signin-verify",
    "accounts:signout",
    "accounts:password-reset",
    "accounts:password-reset-sent",
    "accounts:password-reset-confirm",
    "tenancy:signup",
    "tenancy:invitation",
    "feed",  # a staff calendar feed: the secret token is the whole credential
    # Stripe's events for a clinic: the signature under the clinic's secret is the credential
    # (tests/payments: a bad or missing one is 400 and changes nothing).
    "payments:stripe-webhook",
}


# Public routes inside one clinic (/book/<clinic_slug>/...): no sign-in, and no cookie (P19).
# The factory makes what the route takes (a service, a manage-link token) in a clinic; the
# cross-clinic suite asks for it under another clinic's address (P1).
@dataclass(frozen=True)
class PublicRoute:
    objects: Callable[[Clinic], dict[str, Any]] | None = None
    post: Callable[[Clinic, dict[str, Any]], dict[str, Any]] | None = None
    get: bool = True
    setup: Callable[[Clinic], Any] | None = None  # what the page shows, made beforehand


def _public_setup(clinic: Clinic) -> dict[str, Any]:
    """An online-bookable service with hours every day, a booked appointment with its manage
    link, and a waitlist place with its link."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from bookwell.bookings import manage_links
    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.bookings.waitlist import waitlist_join
    from bookwell.scheduling.models import Location, Service, StaffMember, WorkingHours

    with clinic_context(clinic):
        location = Location.objects.create(
            clinic=clinic, name="Public", time_zone="Europe/Berlin", address="Main St 1"
        )
        staff = StaffMember.objects.create(clinic=clinic, display_name="Dr. Public")
        service = Service.objects.create(
            clinic=clinic, name="Check-up", duration_min=30, min_notice_min=0
        )
        service.staff.set([staff], through_defaults={"clinic": clinic})
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=clinic,
                staff=staff,
                location=location,
                weekday=weekday,
                start_min=8 * 60,
                end_min=18 * 60,
            )
        client = client_create(
            clinic=clinic,
            data=ClientInput(full_name="Public Client", email=f"p-{uuid4().hex[:8]}@ex.test"),
        )
        start = (timezone.now() + dt.timedelta(days=5)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        appointment = appointment_book(
            clinic=clinic,
            request=BookingRequest(service=service, staff=staff, start=start, client=client),
        )
        token = manage_links.issue(appointment)
        today = timezone.localdate(timezone=ZoneInfo(clinic.time_zone))
        entry = waitlist_join(
            clinic=clinic,
            client=client,
            service=service,
            first_day=today,
            last_day=today + dt.timedelta(days=7),
        )
        waitlist_token = manage_links.issue(entry)
    return {
        "service_id": service.pk,
        "token": token,
        "waitlist_token": waitlist_token,
        "free_start": int((start + dt.timedelta(days=1)).timestamp()),
    }


def public_ticket(purpose: str) -> str:
    """A form ticket issued a minute ago (as if a person had filled the form in)."""
    import time

    from django.core import signing

    from bookwell.bookings.public_forms import TICKET_SALT

    return signing.dumps(
        {"p": purpose, "k": uuid4().hex, "t": int(time.time()) - 60}, salt=TICKET_SALT
    )


TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _logo(clinic: Clinic) -> None:
    clinic.logo, clinic.logo_content_type = TINY_PNG, "image/png"
    clinic.save(update_fields=["logo", "logo_content_type"])


def _service_kwargs(clinic: Clinic) -> dict[str, Any]:
    return {"service_id": _public_setup(clinic)["service_id"]}


def _manage_kwargs(clinic: Clinic) -> dict[str, Any]:
    return {"token": _public_setup(clinic)["token"]}


def _waitlist_kwargs(clinic: Clinic) -> dict[str, Any]:
    return {"token": _public_setup(clinic)["waitlist_token"]}


def _booking_post(clinic: Clinic, kwargs: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    start = timezone.now() + dt.timedelta(days=6)
    start = start.replace(hour=11, minute=0, second=0, microsecond=0)
    return {
        "full_name": "Walk In",
        "email": f"w-{uuid4().hex[:8]}@ex.test",
        "staff": "any",
        "start": str(int(start.timestamp())),
        "ticket": public_ticket(f"book:{kwargs.get('service_id')}"),
    }


def _waitlist_post(clinic: Clinic, kwargs: dict[str, Any]) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    today = timezone.localdate(timezone=ZoneInfo(clinic.time_zone))
    return {
        "full_name": "Wait Ing",
        "email": f"wl-{uuid4().hex[:8]}@ex.test",
        "first_day": today.isoformat(),
        "last_day": (today + timedelta(days=3)).isoformat(),
        "ticket": public_ticket(f"waitlist:{kwargs.get('service_id')}"),
    }


def _reschedule_post(clinic: Clinic, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"start": _booking_post(clinic, kwargs)["start"]}  # a free time six days on


PUBLIC_CLINIC_ROUTES: dict[str, PublicRoute] = {
    "book:services": PublicRoute(),
    "book:theme": PublicRoute(),
    "book:logo": PublicRoute(setup=_logo),
    "book:privacy": PublicRoute(),
    "book:service": PublicRoute(objects=_service_kwargs),
    "book:details": PublicRoute(objects=_service_kwargs, post=_booking_post),
    "book:waitlist": PublicRoute(objects=_service_kwargs, post=_waitlist_post),
    "book:manage": PublicRoute(objects=_manage_kwargs),
    "book:payment": PublicRoute(objects=lambda c: _payment(c)),
    "book:payment-start": PublicRoute(
        objects=lambda c: _payment(c), get=False, post=lambda c, k: {}
    ),
    "book:manage-cancel": PublicRoute(objects=_manage_kwargs, get=False, post=lambda c, k: {}),
    "book:manage-reschedule": PublicRoute(objects=_manage_kwargs, post=_reschedule_post),
    "book:ics": PublicRoute(objects=_manage_kwargs),
    "book:manage-privacy": PublicRoute(
        objects=_manage_kwargs, get=False, post=lambda c, k: {"kind": "access"}
    ),
    "book:waitlist-manage": PublicRoute(
        objects=_waitlist_kwargs, post=lambda c, k: {"action": "leave"}
    ),
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
    "notifications:my-feeds",
    "notifications:my-feed-issue",
    # Operator pages: 404 for everyone but operators (tests/core/test_operator.py).
    "operator-tasks",
    "operator-task-rerun",
    "operator-usage",
    "operator-clinics",
}


def _membership(clinic: Clinic) -> dict[str, Any]:
    user = make_member(clinic, Role.PRACTITIONER)
    with clinic_context(clinic):
        return {"membership_id": Membership.objects.get(user=user).pk}


def _usage(model_name: str) -> Callable[[Clinic], Any]:
    def make(clinic: Clinic) -> dict[str, Any]:
        import datetime as dt

        from bookwell.telemetry.models import Feature, UsageDay, UsageMonth

        model = {"UsageDay": UsageDay, "UsageMonth": UsageMonth}[model_name]
        period = "day" if model is UsageDay else "month"
        with clinic_context(clinic):
            row = model.objects.create(
                clinic=clinic,
                feature=Feature.BOOKING_CREATED,
                count=3,
                **{period: dt.date(2031, 3, 1)},
            )
        return {"usage_id": row.pk}

    return make


def _plan_usage(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.tenancy.models import Allowance, PlanUsage

    with clinic_context(clinic):
        row = PlanUsage.objects.create(
            clinic=clinic, allowance=Allowance.BOOKINGS_PER_MONTH, period=dt.date(2031, 3, 1)
        )
    return {"plan_usage_id": row.pk}


def _api_token(clinic: Clinic) -> dict[str, Any]:
    from bookwell.integrations.services import api_token_create

    with clinic_context(clinic):
        token, _secret = api_token_create(
            clinic=clinic, name="Registry token", scopes=["appointments:read"]
        )
    return {"token_id": token.pk}


def _webhook(clinic: Clinic) -> dict[str, Any]:
    from bookwell.integrations.models import WebhookEndpoint

    with clinic_context(clinic):
        endpoint = WebhookEndpoint.objects.create(
            clinic=clinic, url="https://hooks.example.test/in", events=["client.created"],
            secret="whsec_registry",
        )  # fmt: skip
    return {"endpoint_id": endpoint.pk}


def _webhook_delivery(clinic: Clinic) -> dict[str, Any]:
    from bookwell.integrations.models import WebhookDelivery, WebhookEndpoint

    endpoint_id = _webhook(clinic)["endpoint_id"]
    with clinic_context(clinic):
        delivery = WebhookDelivery.objects.create(
            clinic=clinic, endpoint=WebhookEndpoint.objects.get(pk=endpoint_id),
            event_id=uuid4(), event="client.created", payload={"data": {}},
            status="delivered", next_attempt_at=timezone.now(),
        )  # fmt: skip
    return {"delivery_id": delivery.pk}


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
    # Rows the route's post data refers to (created before the "nothing changed" snapshot).
    setup: Callable[[Clinic], Any] | None = None
    # URL parts that are not objects of a clinic (the same for every clinic).
    fixed: dict[str, Any] = field(default_factory=dict)

    def url_kwargs(self, clinic: Clinic) -> dict[str, Any]:
        return {**self.fixed, **(self.objects(clinic) if self.objects else {})}


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


def _restricted_client(clinic: Clinic) -> dict[str, Any]:
    from bookwell.clients.models import Client

    made = _client(clinic)
    with clinic_context(clinic):
        Client.objects.filter(pk=made["client_id"]).update(restricted=True)
    return made


def _subject_request(clinic: Clinic) -> dict[str, Any]:
    from bookwell.clients.models import Client
    from bookwell.privacy.services import subject_request_record

    made = _client(clinic)
    with clinic_context(clinic):
        request = subject_request_record(
            clinic=clinic, client=Client.objects.get(pk=made["client_id"]), kind="access"
        )
    return {"request_id": request.pk}


def _payment_settings(clinic: Clinic) -> None:
    from bookwell.payments.models import PaymentSettings

    with clinic_context(clinic):
        PaymentSettings.objects.create(clinic=clinic, secret_key="sk_test_registry")


def _payment(clinic: Clinic) -> dict[str, Any]:
    """A time held for a client paying online, with its pending payment."""
    import datetime as dt

    from bookwell.bookings.services import BookingRequest, appointment_book
    from bookwell.payments.models import Payment, PaymentKind

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        held = appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=made["service"],
                staff=made["staff"],
                client=made["client"],
                start=dt.datetime(2031, 6, 4, 9, 0, tzinfo=dt.UTC),
            ),
            hold_until=timezone.now() + timedelta(minutes=15),
        )
        payment = Payment.objects.create(
            clinic=clinic, appointment=held, kind=PaymentKind.DEPOSIT, amount_cents=1000,
            currency="EUR", stripe_session_id=f"cs_test_{uuid4().hex}",
            checkout_url="https://checkout.stripe.test/c/pay/registry",
        )  # fmt: skip
    return {"payment_id": payment.pk}


def _paid_payment(clinic: Clinic) -> dict[str, Any]:
    from bookwell.payments.models import Payment, PaymentMethod, PaymentStatus

    made = _payment(clinic)
    with clinic_context(clinic):
        Payment.objects.filter(pk=made["payment_id"]).update(
            status=PaymentStatus.PAID, method=PaymentMethod.IN_PERSON, paid_at=timezone.now()
        )
    return made


def _refund(clinic: Clinic) -> None:
    from bookwell.payments.models import Payment, Refund

    made = _payment(clinic)
    with clinic_context(clinic):
        payment = Payment.objects.get(pk=made["payment_id"])
        Refund.objects.create(clinic=clinic, payment=payment, amount_cents=100, reason="staff")


def _pending_deletion(clinic: Clinic) -> None:
    Clinic.objects.filter(pk=clinic.pk).update(deletion_due_at=timezone.now() + timedelta(days=14))


def _test_password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


def _clinic_export(clinic: Clinic) -> dict[str, Any]:
    """A ready export of the clinic's data."""
    from bookwell.privacy.clinic_data import clinic_export_build, clinic_export_request

    with clinic_context(clinic):
        export = clinic_export_request(clinic=clinic, actor=None)
    clinic_export_build(str(export.pk))
    return {"export_id": export.pk}


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
        service = Service.objects.create(
            clinic=clinic, name="Svc", duration_min=30, max_advance_days=3650
        )
        service.staff.set([staff], through_defaults={"clinic": clinic})
        service.rooms.set([room], through_defaults={"clinic": clinic})
        for weekday in range(7):  # the waitlist is offered only times a client could book
            WorkingHours.objects.create(
                clinic=clinic,
                staff=staff,
                location=location,
                weekday=weekday,
                start_min=480,
                end_min=1080,
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
    "integrations.ApiToken": _api_token,
    "telemetry.UsageDay": _usage("UsageDay"),
    "tenancy.PlanUsage": _plan_usage,
    "telemetry.UsageMonth": _usage("UsageMonth"),
    "integrations.WebhookEndpoint": _webhook,
    "integrations.WebhookDelivery": _webhook_delivery,
    "tenancy.ClinicKey": _client,  # the first sealed field creates the clinic's data key
    "clients.Client": _client,
    "clients.ClientIndex": _client,
    "clients.PrivacyNotice": _consent,
    "clients.ConsentRecord": _consent,
    "privacy.SubjectRequest": _subject_request,
    "privacy.ClinicExport": _clinic_export,
    "payments.PaymentSettings": _payment_settings,
    "payments.Payment": _payment,
    "payments.Refund": _refund,
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
    "notifications.Delivery": _schedule,  # the waitlist offer in it is a delivery
    "notifications.MessageTemplate": lambda clinic: _notification_settings(clinic),
    "notifications.ReminderRule": lambda clinic: _notification_settings(clinic),
    "notifications.CalendarFeed": lambda clinic: _calendar_feed(clinic),
}


def _calendar_feed(clinic: Clinic) -> dict[str, Any]:
    from bookwell.notifications.feeds import feed_issue
    from bookwell.scheduling.models import StaffMember

    with clinic_context(clinic):
        member = StaffMember.objects.create(clinic=clinic, display_name="Feed Owner")
        feed_issue(clinic=clinic, staff=member)
    return {"staff_id": member.pk}


def _failed_delivery(clinic: Clinic) -> dict[str, Any]:
    from django.utils import timezone

    from bookwell.notifications.models import Delivery

    with clinic_context(clinic):
        now = timezone.now()
        delivery = Delivery.objects.create(
            clinic=clinic,
            kind="confirmation",
            channel="email",
            status="failed",
            error_code="email:SMTPServerDisconnected",
            due_at=now,
            next_attempt_at=now,
            attempts=6,
        )
    return {"delivery_id": delivery.pk}


def _staff_member(clinic: Clinic) -> dict[str, Any]:
    from bookwell.scheduling.models import StaffMember

    with clinic_context(clinic):
        member = StaffMember.objects.create(clinic=clinic, display_name="Feed Person")
    return {"staff_id": member.pk}


def _reminder_rule(clinic: Clinic) -> dict[str, Any]:
    from bookwell.notifications.models import ReminderRule

    with clinic_context(clinic):
        rule = ReminderRule.objects.create(clinic=clinic, minutes_before=180, channel="email")
    return {"rule_id": rule.pk}


def _notification_settings(clinic: Clinic) -> dict[str, Any]:
    from bookwell.notifications.models import MessageTemplate, ReminderRule

    with clinic_context(clinic):
        rule, _ = ReminderRule.objects.get_or_create(clinic=clinic, minutes_before=24 * 60)
        template, _ = MessageTemplate.objects.get_or_create(
            clinic=clinic,
            kind="reminder",
            channel="email",
            language="en",
            defaults={"subject": "See you {date}", "body": "Hello {client_name}"},
        )
    return {"rule_id": rule.pk, "template_id": template.pk}


def _client_with_notice(clinic: Clinic) -> dict[str, Any]:
    with clinic_context(clinic):
        privacy_notice_publish(clinic=clinic, body="Version for consent.")
    return _client(clinic)


def _current_notice(clinic: Clinic) -> dict[str, Any]:
    # Read-only: the objects factory has published it (post data must not write).
    with clinic_context(clinic):
        notice = privacy_notice_current(clinic=clinic)
    return {"notice": notice.pk if notice else ""}


def _desk_setup(clinic: Clinic) -> dict[str, Any]:
    """A staff member who performs a service, in a location, and a client."""
    from bookwell.scheduling.models import Location, Service, StaffMember

    with clinic_context(clinic):
        location = Location.objects.create(clinic=clinic, name="Desk", time_zone="Europe/Berlin")
        staff = StaffMember.objects.create(clinic=clinic, display_name="Dr. Desk")
        service = Service.objects.create(clinic=clinic, name="Desk visit", duration_min=30)
        service.staff.set([staff], through_defaults={"clinic": clinic})
        client = client_create(clinic=clinic, data=ClientInput(full_name="Desk Client"))
    return {"location": location, "staff": staff, "service": service, "client": client}


def _first(model: Any, clinic: Clinic) -> Any:
    with clinic_context(clinic):
        return model.objects.order_by("pk").first()


def _new_appointment_post(clinic: Clinic) -> dict[str, Any]:
    from bookwell.scheduling.models import Service, StaffMember

    staff, service = _first(StaffMember, clinic), _first(Service, clinic)
    return {
        "staff": staff.pk if staff else "",
        "service": service.pk if service else "",
        "date": "2031-07-02",
        "time": "11:00",
        "new_client_name": "Walk In",
    }


def _waitlist_add_post(clinic: Clinic) -> dict[str, Any]:
    from bookwell.clients.models import Client
    from bookwell.scheduling.models import Service

    client, service = _first(Client, clinic), _first(Service, clinic)
    return {
        "client": str(client.pk) if client else "",
        "service": service.pk if service else "",
        "first_day": "2031-07-01",
        "last_day": "2031-07-08",
    }


def _live_appointment(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.bookings.services import BookingRequest, appointment_book

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        appointment = appointment_book(
            clinic=clinic,
            request=BookingRequest(
                service=made["service"],
                staff=made["staff"],
                client=made["client"],
                start=dt.datetime(2031, 6, 3, 9, 0, tzinfo=dt.UTC),
            ),
        )
    return {"appointment_id": appointment.pk}


def _series_appointment(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.bookings.recurring import series_book

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        _series, booked = series_book(
            clinic=clinic,
            service=made["service"],
            staff=made["staff"],
            client=made["client"],
            first_start=dt.datetime(2031, 6, 3, 9, 0, tzinfo=dt.UTC),
            count=3,
        )
    return {"appointment_id": booked[0].pk}


def _waitlist_entry(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.bookings.waitlist import waitlist_join

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        entry = waitlist_join(
            clinic=clinic,
            client=made["client"],
            service=made["service"],
            first_day=dt.date(2031, 6, 1),
            last_day=dt.date(2031, 6, 8),
        )
    return {"entry_id": entry.pk}


def _catalog_object(kind: str) -> Callable[[Clinic], dict[str, Any]]:
    def make(clinic: Clinic) -> dict[str, Any]:
        from bookwell.scheduling.models import Room, Service

        made = _desk_setup(clinic)
        with clinic_context(clinic):
            if kind == "rooms":
                obj = Room.objects.create(clinic=clinic, location=made["location"], name="Room X")
            elif kind == "services":
                obj = Service.objects.get(pk=made["service"].pk)
            else:
                obj = made["staff" if kind == "staff" else "location"]
        return {"object_id": obj.pk}

    return make


def _catalog_post(kind: str) -> Callable[[Clinic], dict[str, Any]]:
    def data(clinic: Clinic) -> dict[str, Any]:
        from bookwell.scheduling.models import Location

        if kind == "services":
            return {
                "name": "Formed Service",
                "duration_min": 30,
                "buffer_before_min": 0,
                "buffer_after_min": 5,
                "price": "45.00",
                "currency": "EUR",
                "slot_interval_min": 15,
                "min_notice_min": 60,
                "max_advance_days": 30,
                "cancel_notice_min": 60,
                "reschedule_notice_min": 60,
                "online_bookable": "on",
                "assignment_policy": "least_booked",
                "capacity": 1,
            }
        if kind == "staff":
            return {"display_name": "Formed Staff", "bookable": "on"}
        if kind == "locations":
            return {"name": "Formed Place", "address": "Street 1", "time_zone": "Europe/Berlin"}
        location = _first(Location, clinic)
        return {"location": location.pk if location else "", "name": "Formed Room", "capacity": 2}

    return data


def _staff_with_place(clinic: Clinic) -> dict[str, Any]:
    return {"staff_id": _desk_setup(clinic)["staff"].pk}


def _hours_post(clinic: Clinic) -> dict[str, Any]:
    from bookwell.scheduling.models import Location

    location = _first(Location, clinic)
    return {f"h_{location.pk if location else 0}_0": "09:00-12:00, 13:00-17:00"}


def _override_post(clinic: Clinic) -> dict[str, Any]:
    from bookwell.scheduling.models import Location

    location = _first(Location, clinic)
    return {
        "date": "2031-07-07",
        "location": location.pk if location else "",
        "hours": "10:00-12:00",
    }


def _override(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.scheduling.models import DateOverride

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        override = DateOverride.objects.create(
            clinic=clinic,
            staff=made["staff"],
            location=made["location"],
            date=dt.date(2031, 7, 1),
        )
    return {"override_id": override.pk}


def _time_off(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.scheduling.models import TimeOff

    made = _desk_setup(clinic)
    with clinic_context(clinic):
        start = dt.datetime(2031, 7, 1, 8, 0, tzinfo=dt.UTC)
        time_off = TimeOff.objects.create(
            clinic=clinic,
            staff=made["staff"],
            start=start,
            end=start + dt.timedelta(hours=8),
            category="training",
        )
    return {"time_off_id": time_off.pk}


def _closure(clinic: Clinic) -> dict[str, Any]:
    import datetime as dt

    from bookwell.scheduling.models import ClinicClosure

    with clinic_context(clinic):
        closure = ClinicClosure.objects.create(
            clinic=clinic, first_day=dt.date(2031, 12, 24), last_day=dt.date(2031, 12, 26)
        )
    return {"closure_id": closure.pk}


def _catalog_routes() -> dict[str, ClinicRoute]:
    routes: dict[str, ClinicRoute] = {}
    for kind in ("services", "staff", "locations", "rooms"):
        needs = _desk_setup if kind == "rooms" else None
        routes[f"scheduling:{kind}"] = ClinicRoute()
        routes[f"scheduling:{kind}-new"] = ClinicRoute(setup=needs, post=_catalog_post(kind))
        routes[f"scheduling:{kind}-edit"] = ClinicRoute(
            objects=_catalog_object(kind), post=_catalog_post(kind)
        )
        routes[f"scheduling:{kind}-archive"] = ClinicRoute(
            objects=_catalog_object(kind), get=False, post=lambda c: {"archived": "1"}
        )
    return routes


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
    "privacy:client": ClinicRoute(
        objects=_client,
        post=lambda c: {"kind": "access", "received_on": timezone.localdate().isoformat()},
    ),
    "privacy:copy-json": ClinicRoute(objects=_client),
    "privacy:copy-zip": ClinicRoute(objects=_client),
    "privacy:restrict": ClinicRoute(objects=_client, get=False, post=lambda c: {}),
    "privacy:lift": ClinicRoute(
        objects=_restricted_client, get=False, post=lambda c: {"client_told": "on"}
    ),
    "privacy:erase": ClinicRoute(objects=_client, get=False, post=lambda c: {"understood": "on"}),
    "privacy:close": ClinicRoute(
        objects=_subject_request, get=False, post=lambda c: {"status": "done"}
    ),
    "privacy:requests": ClinicRoute(),
    "privacy:center": ClinicRoute(),
    "payments:settings": ClinicRoute(
        post=lambda c: {
            "enabled": "",
            "currency": "EUR",
            "hold_minutes": "20",
            "keep_percent": "50",
        }
    ),
    "privacy:record": ClinicRoute(),
    "payments:list": ClinicRoute(),
    "payments:refund": ClinicRoute(
        objects=lambda c: _paid_payment(c), get=False, post=lambda c: {"amount": "1.00"}
    ),
    "payments:in-person": ClinicRoute(
        objects=_live_appointment, get=False, post=lambda c: {"amount": "12.00"}
    ),
    "privacy:export-create": ClinicRoute(get=False, post=lambda c: {}),
    "privacy:export-download": ClinicRoute(objects=_clinic_export),
    "privacy:delete": ClinicRoute(
        get=False, post=lambda c: {"name": c.name, "password": _test_password()}
    ),
    "privacy:delete-cancel": ClinicRoute(get=False, post=lambda c: {}, setup=_pending_deletion),
    # --- Catalogue and schedules (scheduling:) ---
    **_catalog_routes(),
    "scheduling:schedule": ClinicRoute(objects=_staff_with_place, post=_hours_post),
    "scheduling:override-add": ClinicRoute(
        objects=_staff_with_place, get=False, post=_override_post
    ),
    "scheduling:override-delete": ClinicRoute(objects=_override, get=False, post=lambda c: {}),
    "scheduling:time-off-add": ClinicRoute(
        objects=_staff_with_place,
        get=False,
        post=lambda c: {"start": "2031-07-01T09:00", "end": "2031-07-01T17:00", "category": "sick"},
    ),
    "scheduling:time-off-delete": ClinicRoute(objects=_time_off, get=False, post=lambda c: {}),
    "scheduling:closures": ClinicRoute(
        post=lambda c: {"first_day": "2031-12-24", "last_day": "2031-12-26", "label": "Holidays"}
    ),
    "scheduling:closure-delete": ClinicRoute(objects=_closure, get=False, post=lambda c: {}),
    # --- end catalogue and schedules ---
    #
    # --- Calendar and appointments (bookings:) ---
    "bookings:calendar": ClinicRoute(),
    "bookings:new": ClinicRoute(setup=_desk_setup, post=_new_appointment_post),
    "bookings:client-lookup": ClinicRoute(),
    "bookings:appointment": ClinicRoute(objects=_live_appointment),
    "bookings:status": ClinicRoute(
        objects=_live_appointment, get=False, post=lambda c: {"status": "checked_in"}
    ),
    "bookings:move": ClinicRoute(
        objects=_live_appointment, get=False, post=lambda c: {"date": "2031-07-01", "time": "10:00"}
    ),
    "bookings:cancel": ClinicRoute(
        objects=_live_appointment, get=False, post=lambda c: {"who": "clinic", "reason": "illness"}
    ),
    "bookings:note": ClinicRoute(
        objects=_live_appointment, get=False, post=lambda c: {"note": "Bring the X-ray."}
    ),
    "bookings:series-cancel": ClinicRoute(
        objects=_series_appointment, get=False, post=lambda c: {"scope": "future"}
    ),
    "bookings:waitlist": ClinicRoute(),
    "bookings:waitlist-add": ClinicRoute(get=False, setup=_desk_setup, post=_waitlist_add_post),
    "bookings:waitlist-remove": ClinicRoute(objects=_waitlist_entry, get=False, post=lambda c: {}),
    # --- end calendar and appointments ---
    #
    # --- Notifications (notifications:) ---
    "notifications:deliveries": ClinicRoute(),
    "notifications:resend": ClinicRoute(objects=_failed_delivery, get=False, post=lambda c: {}),
    "notifications:sending": ClinicRoute(
        post=lambda c: {
            "sending-sms_enabled": "on",
            "sending-quiet_start": "21:00",
            "sending-quiet_end": "08:00",
        }
    ),
    "notifications:rule-add": ClinicRoute(
        get=False,
        post=lambda c: {"rule-amount": "2", "rule-unit": "60", "rule-channel": "email"},
    ),
    "notifications:rule-remove": ClinicRoute(objects=_reminder_rule, get=False, post=lambda c: {}),
    "notifications:templates": ClinicRoute(),
    "notifications:feeds": ClinicRoute(),
    "notifications:feed-issue": ClinicRoute(
        objects=_staff_member, get=False, post=lambda c: {"action": "issue"}
    ),
    "notifications:template-edit": ClinicRoute(
        fixed={"kind": "reminder", "channel": "email", "language": "de"},
        post=lambda c: {"subject": "Bald: {date}", "body": "Bis {time}!", "action": "save"},
    ),
    # --- end notifications ---
    #
    # --- Settings and overview (tenancy:) ---
    "tenancy:settings-booking": ClinicRoute(
        post=lambda c: {
            "online_booking": "on",
            "booking_contact": "either",
            "waitlist_offer_minutes": 90,
            "default_min_notice_min": 60,
            "default_max_advance_days": 120,
            "default_cancel_notice_min": 720,
        }
    ),
    "tenancy:settings-branding": ClinicRoute(post=lambda c: {"brand_colour": "#0b4f6c"}),
    "tenancy:settings-embedding": ClinicRoute(
        post=lambda c: {"embed_origins": "https://www.example-clinic.test"}
    ),
    "tenancy:settings-plan": ClinicRoute(),
    "audit:events": ClinicRoute(),
    "audit:export": ClinicRoute(),
    "integrations:tokens": ClinicRoute(
        post=lambda c: {"name": "Website", "scopes": ["appointments:read", "schedule:read"]}
    ),
    "integrations:token-revoke": ClinicRoute(objects=_api_token, get=False, post=lambda c: {}),
    "integrations:webhooks": ClinicRoute(
        post=lambda c: {"url": "https://93.184.215.14/hooks", "events": ["client.created"]}
    ),
    "integrations:webhook": ClinicRoute(objects=_webhook),
    "integrations:webhook-toggle": ClinicRoute(objects=_webhook, get=False, post=lambda c: {}),
    "integrations:webhook-delete": ClinicRoute(objects=_webhook, get=False, post=lambda c: {}),
    "integrations:webhook-redeliver": ClinicRoute(
        objects=_webhook_delivery, get=False, post=lambda c: {}
    ),
    # --- end settings and overview ---
}
