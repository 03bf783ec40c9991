"""Plans (P9): each allowance holds at N-1, N and N+1 through the pages and the API, with a
clear message or a problem+json `plan_limit_reached` and nothing written past it; racing
bookings cannot go past the allowance; owners see their usage; operators change plans; the
audit log is kept as long as the plan says."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from bookwell.audit.models import Action, AuditEvent
from bookwell.bookings.models import Appointment
from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications import channels
from bookwell.notifications import services as notifications
from bookwell.notifications.models import Channel, Delivery, DeliveryStatus, SkipReason
from bookwell.scheduling.models import StaffMember, WorkingHours
from bookwell.tenancy.models import Allowance, Clinic, PlanUsage, Role
from bookwell.tenancy.plans import PlanLimitReached, plan_usage
from tests.bookings.factories import schedule, together
from tests.conftest import signed_in_client
from tests.factories import UserFactory, make_member
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # Monday 3 March 2031, 07:00 in Berlin
DAY = dt.date(2031, 3, 5)  # Wednesday
N = 3  # every allowance of the "small" plan


def small_plan(**changes: object) -> dict[str, dict[str, object]]:
    terms: dict[str, object] = {
        "name": "Small",
        "staff_seats": N,
        "bookings_per_month": N,
        "sms_per_month": N,
        "api_calls_per_day": 100,
        "audit_retention_days": 30,
    }
    terms.update(changes)
    return {
        "small": terms,
        "trial": {"name": "Trial", "audit_retention_days": 90},
        "unlimited": {"name": "Unlimited", "audit_retention_days": 730},
    }


@pytest.fixture
def plans(settings):
    settings.PLANS = small_plan()
    return settings


@pytest.fixture
def setup(clinic_a, clock, plans):
    clinic_a.plan = "small"
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    s = schedule(clinic_a, online_bookable=True, min_notice_min=0)
    with clinic_context(clinic_a):
        for staff in (s.staff, s.other_staff):
            for weekday in range(7):
                WorkingHours.objects.create(
                    clinic=clinic_a,
                    staff=staff,
                    location=s.location,
                    weekday=weekday,
                    start_min=8 * 60,
                    end_min=18 * 60,
                )
    return s


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hour - 1, minute, tzinfo=dt.UTC)


def _appointments(clinic: Clinic) -> int:
    with clinic_context(clinic):
        return Appointment.objects.count()


def _used(clinic: Clinic, allowance: Allowance) -> int:
    with clinic_context(clinic):
        return sum(PlanUsage.objects.filter(allowance=allowance).values_list("used", flat=True))


def _problem(response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return json.loads(response.content)


# --- Bookings per month -------------------------------------------------------------------------


def test_bookings_through_the_api_stop_at_the_plans_allowance(setup, clinic_a):
    api = ApiClient(token_for(clinic_a))
    for n in range(1, N + 1):  # N-1 used, then the N-th: both booked
        made = api.post(
            "/appointments",
            {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(9 + n).isoformat()},
        )
        assert made.status_code == 201, made.content
        assert _used(clinic_a, Allowance.BOOKINGS_PER_MONTH) == n
    refused = api.post(
        "/appointments",
        {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(15).isoformat()},
    )
    body = _problem(refused, 403)
    assert body["code"] == "plan_limit_reached"
    assert body["allowance"] == "bookings_per_month" and body["limit"] == N
    assert "3 appointments a month" in str(body["detail"])
    assert _appointments(clinic_a) == N  # nothing of the N+1-th was written
    assert _used(clinic_a, Allowance.BOOKINGS_PER_MONTH) == N
    # Next month the allowance starts again.
    with clinic_context(clinic_a):
        PlanUsage.objects.update(period=dt.date(2031, 2, 1))  # as if they were last month's
    made = api.post(
        "/appointments",
        {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(16).isoformat()},
    )
    assert made.status_code == 201


def test_bookings_at_the_front_desk_stop_at_the_allowance_with_a_message(setup, clinic_a):
    desk = signed_in_client(make_member(clinic_a, Role.FRONT_DESK))
    url = reverse("bookings:new", kwargs={"clinic_slug": clinic_a.slug})

    def book(hour: int):
        return desk.post(
            url,
            {
                "staff": setup.staff.pk,
                "service": setup.service.pk,
                "date": DAY.isoformat(),
                "time": f"{hour:02d}:00",
                "new_client_name": f"Walk In {hour}",
            },
        )

    for n in range(1, N + 1):
        assert book(9 + n).status_code in (200, 302)
        assert _appointments(clinic_a) == n
    refused = book(15)
    assert refused.status_code == 409
    assert "includes 3 appointments a month" in refused.content.decode()
    assert _appointments(clinic_a) == N
    with clinic_context(clinic_a):
        from bookwell.clients.models import Client as ClientRecord

        assert ClientRecord.objects.count() == N  # the walk-in's new record went too


def test_the_public_page_tells_clients_to_contact_the_clinic_past_the_allowance(
    setup, clinic_a, clock
):
    with clinic_context(clinic_a):
        for n in range(N):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(9 + n)),
            )
    browser = Client()
    url = reverse(
        "book:details", kwargs={"clinic_slug": clinic_a.slug, "service_id": setup.service.pk}
    )
    start = int(_at(15).timestamp())
    page = browser.get(url, {"staff": "any", "start": start})
    assert page.status_code == 200
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.content.decode())
    assert ticket
    clock.shift(5)
    refused = browser.post(
        url,
        {
            "full_name": "Mia Online",
            "email": "mia@example.test",
            "staff": "any",
            "start": start,
            "ticket": ticket.group(1),
        },
    )
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "cannot take more online bookings this month" in html
    assert "plan" not in html.lower().split("cannot take more")[1][:200]  # no plan details
    assert _appointments(clinic_a) == N


@pytest.mark.django_db(transaction=True)
def test_racing_bookings_cannot_together_go_past_the_allowance(clinic_a, settings):
    """On PostgreSQL the counter row's lock is what holds: N+1 bookings of different staff
    members and times, released at once, at an allowance of N: exactly N are booked."""
    settings.PLANS = small_plan(bookings_per_month=N)
    clinic_a.plan = "small"
    clinic_a.save()
    setups = [schedule(clinic_a) for _ in range(N + 1)]  # a staff member each: no overlap

    def attempt(i: int):
        with clinic_context(clinic_a):
            s = setups[i]
            return appointment_book(
                clinic=clinic_a,
                request=BookingRequest(service=s.service, staff=s.staff, start=_at(9 + i)),
            ).pk

    results, errors = together(N + 1, attempt)

    assert len(results) == N
    assert len(errors) == 1 and isinstance(errors[0], PlanLimitReached), errors
    assert _appointments(clinic_a) == N
    assert _used(clinic_a, Allowance.BOOKINGS_PER_MONTH) == N


# --- Staff seats --------------------------------------------------------------------------------


def test_staff_seats_hold_through_the_catalog_page_the_api_and_bringing_one_back(clinic_a, plans):
    clinic_a.plan = "small"
    clinic_a.save()
    with clinic_context(clinic_a):
        StaffMember.objects.create(clinic=clinic_a, display_name="Seat 1")  # N-2 taken
    admin = signed_in_client(make_member(clinic_a, Role.ADMIN))
    url = reverse("scheduling:staff-new", kwargs={"clinic_slug": clinic_a.slug})
    assert admin.post(url, {"display_name": "Seat 2", "bookable": "on"}).status_code == 302
    api = ApiClient(token_for(clinic_a))
    assert api.post("/staff", {"display_name": "Seat 3"}).status_code == 201  # the N-th
    page = admin.post(url, {"display_name": "Seat 4", "bookable": "on"})
    assert page.status_code == 400
    assert "includes 3 staff members" in page.content.decode()
    body = _problem(api.post("/staff", {"display_name": "Seat 4"}), 403)
    assert body["code"] == "plan_limit_reached" and body["allowance"] == "staff_seats"
    with clinic_context(clinic_a):
        assert StaffMember.objects.count() == N
        first = StaffMember.objects.get(display_name="Seat 1")
    archive = reverse(
        "scheduling:staff-archive", kwargs={"clinic_slug": clinic_a.slug, "object_id": first.pk}
    )
    assert admin.post(archive, {"archived": "1"}).status_code == 302  # a seat frees up
    assert api.post("/staff", {"display_name": "Seat 4"}).status_code == 201
    back = admin.post(archive, {"archived": "0"}, follow=True)  # no seat left for it
    assert "includes 3 staff members" in back.content.decode()
    with clinic_context(clinic_a):
        assert StaffMember.objects.filter(archived=False).count() == N
        assert StaffMember.objects.get(pk=first.pk).archived


# --- API calls per day --------------------------------------------------------------------------


def test_api_calls_stop_for_the_day_at_the_allowance_and_start_again_the_next(
    clinic_a, clock, settings
):
    settings.PLANS = small_plan(api_calls_per_day=N)
    clinic_a.plan = "small"
    clinic_a.save()
    api = ApiClient(token_for(clinic_a))
    for _ in range(N):
        assert api.get("/services").status_code == 200
    refused = api.get("/services")
    body = _problem(refused, 429)
    assert body["code"] == "plan_limit_reached" and body["allowance"] == "api_calls_per_day"
    assert 0 < int(refused["Retry-After"]) <= 24 * 3600
    assert _used(clinic_a, Allowance.API_CALLS_PER_DAY) == N  # the refused call rolled back
    # A write past the day's calls is refused whole: nothing of it is kept.
    refused_write = api.post("/locations", {"name": "Annex", "time_zone": "Europe/Berlin"})
    assert _problem(refused_write, 429)["code"] == "plan_limit_reached"
    from bookwell.scheduling.models import Location

    with clinic_context(clinic_a):
        assert not Location.objects.filter(name="Annex").exists()
    clock.shift(dt.timedelta(days=1))
    assert api.get("/services").status_code == 200


def test_an_api_booking_counts_its_call_once_in_the_bookings_own_round_trip(
    setup, clinic_a, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bookwell.telemetry.models import Feature, UsageDay

    settings.PLANS = small_plan(api_calls_per_day=N, bookings_per_month=10)
    api = ApiClient(token_for(clinic_a))

    def book(hour: int, key: str | None = None):
        body = {
            "service": setup.service.pk,
            "staff": setup.staff.pk,
            "start": _at(hour).isoformat(),
        }
        return api.post("/appointments", body, **({"Idempotency-Key": key} if key else {}))

    def usage(feature: Feature) -> int:
        with clinic_context(clinic_a):
            return sum(UsageDay.objects.filter(feature=feature).values_list("count", flat=True))

    with CaptureQueriesContext(connection) as queries:
        assert book(9).status_code == 201
    if connection.vendor == "postgresql":  # both allowances counted in the booking's batch
        counting = [q["sql"] for q in queries.captured_queries if '"tenancy_planusage"' in q["sql"]]
        assert len(counting) == 1 and 'INSERT INTO "bookings_appointment"' in counting[0]
    assert _used(clinic_a, Allowance.API_CALLS_PER_DAY) == 1
    assert usage(Feature.API_APPOINTMENTS) == 1 and usage(Feature.BOOKING_CREATED) == 1
    assert book(10, key="same").status_code == 201
    assert book(10, key="same").status_code == 201  # the replay is a call too, and books nothing
    assert _used(clinic_a, Allowance.API_CALLS_PER_DAY) == N
    assert usage(Feature.API_APPOINTMENTS) == N and usage(Feature.BOOKING_CREATED) == 2
    refused = book(11)  # past the day's calls: refused whole
    body = _problem(refused, 429)
    assert body["code"] == "plan_limit_reached" and body["allowance"] == "api_calls_per_day"
    assert _appointments(clinic_a) == 2
    assert _used(clinic_a, Allowance.BOOKINGS_PER_MONTH) == 2
    assert _used(clinic_a, Allowance.API_CALLS_PER_DAY) == N
    assert usage(Feature.API_APPOINTMENTS) == N and usage(Feature.BOOKING_CREATED) == 2


@pytest.mark.parametrize("api_calls", [N, None])
def test_an_api_booking_with_any_staff_or_on_an_unlimited_plan_counts_its_call_once(
    setup, clinic_a, settings, api_calls
):
    from bookwell.telemetry.models import Feature, UsageDay

    settings.PLANS = small_plan(api_calls_per_day=api_calls, bookings_per_month=10)
    api = ApiClient(token_for(clinic_a))
    named = {"service": setup.service.pk, "staff": setup.staff.pk, "start": _at(9).isoformat()}
    anyone = {"service": setup.service.pk, "start": _at(10).isoformat()}
    assert api.post("/appointments", named).status_code == 201
    assert api.post("/appointments", anyone).status_code == 201
    with clinic_context(clinic_a):
        calls = sum(
            UsageDay.objects.filter(feature=Feature.API_APPOINTMENTS).values_list(
                "count", flat=True
            )
        )
    assert calls == 2
    assert _used(clinic_a, Allowance.API_CALLS_PER_DAY) == (2 if api_calls else 0)
    assert _used(clinic_a, Allowance.BOOKINGS_PER_MONTH) == 2


# --- Text messages per month --------------------------------------------------------------------


class _Sms:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_next = False

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        if self.fail_next:
            self.fail_next = False
            raise channels.SendError("provider:503")
        self.sent.append(idempotency_key)
        return f"SM{len(self.sent)}"


def test_text_messages_stop_at_the_allowance_and_a_failed_one_is_given_back(
    clinic_a, settings, clock, monkeypatch
):
    settings.PLANS = small_plan(bookings_per_month=None)
    clinic_a.plan = "small"
    clinic_a.sms_enabled = True
    clinic_a.save()
    setup = schedule(clinic_a)
    provider = _Sms()
    monkeypatch.setattr(channels, "sms_provider", lambda: provider)
    with clinic_context(clinic_a):
        for n in range(N + 1):
            person = client_create(
                clinic=clinic_a,
                data=ClientInput(full_name=f"Sam {n}", phone=f"+49 176 1234567{n}"),
            )
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(
                    service=setup.service,
                    staff=setup.staff,
                    start=dt.datetime(2031, 3, 25, 8 + n, tzinfo=dt.UTC),
                    client=person,
                ),
            )
        sms = list(Delivery.objects.filter(channel=Channel.SMS).order_by("created_at"))
    assert len(sms) == N + 1
    provider.fail_next = True
    assert notifications.deliver(sms[0].pk) == "retry"  # not taken: not counted
    assert _used(clinic_a, Allowance.SMS_PER_MONTH) == 0
    outcomes = [notifications.deliver(d.pk) for d in sms[1:]]
    assert outcomes == ["sent"] * N  # N-1, then the N-th
    clock.shift(dt.timedelta(hours=1))
    assert notifications.deliver(sms[0].pk) == "skipped"  # the N+1-th
    with clinic_context(clinic_a):
        skipped = Delivery.objects.get(pk=sms[0].pk)
    assert (skipped.status, skipped.skip_reason) == (DeliveryStatus.SKIPPED, SkipReason.PLAN_LIMIT)
    assert len(provider.sent) == N and _used(clinic_a, Allowance.SMS_PER_MONTH) == N


# --- The usage page, the operator, the audit log's retention -------------------------------------


def test_owners_see_what_their_clinic_has_used_of_each_allowance(setup, clinic_a):
    with clinic_context(clinic_a):
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=_at(10)),
        )
    lines = {line.allowance: (line.used, line.limit) for line in plan_usage(clinic_a)}
    assert lines[Allowance.BOOKINGS_PER_MONTH] == (1, N)
    assert lines[Allowance.STAFF_SEATS] == (2, N)  # the two staff members of the setup
    assert lines[Allowance.SMS_PER_MONTH] == (0, N)
    owner = signed_in_client(make_member(clinic_a, Role.OWNER))
    page = owner.get(reverse("tenancy:settings-plan", kwargs={"clinic_slug": clinic_a.slug}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>Small</strong>" in html
    assert 'max="3" value="1"' in html and 'max="3" value="2"' in html
    assert "keeps events for 30 days" in html
    desk = signed_in_client(make_member(clinic_a, Role.FRONT_DESK))
    url = reverse("tenancy:settings-plan", kwargs={"clinic_slug": clinic_a.slug})
    assert desk.get(url).status_code == 403


def test_the_operator_changes_a_clinics_plan_and_the_clinic_sees_it_in_its_audit_log(
    clinic_a, plans
):
    operator = UserFactory(is_operator=True)
    page = signed_in_client(operator)
    url = reverse("operator-clinics")
    listing = page.get(url)
    assert listing.status_code == 200 and clinic_a.name in listing.content.decode()
    assert page.post(url, {"clinic": clinic_a.pk, "plan": "small"}).status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.plan == "small"
    with clinic_context(clinic_a):
        [event] = AuditEvent.objects.filter(action=Action.PLAN_CHANGED)
    assert (event.actor_id, event.extra) == (str(operator.pk), {"plan": "small"})
    refused = page.post(url, {"clinic": clinic_a.pk, "plan": "gold"}, follow=True)
    assert "Choose one of the plans." in refused.content.decode()
    assert page.post(url, {"clinic": "x", "plan": "small"}).status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.plan == "small"
    owner = signed_in_client(make_member(clinic_a, Role.OWNER))
    assert owner.get(url).status_code == 404
    assert owner.post(url, {"clinic": clinic_a.pk, "plan": "unlimited"}).status_code == 404
    clinic_a.refresh_from_db()
    assert clinic_a.plan == "small"


def test_the_audit_log_is_kept_as_long_as_each_clinics_plan_says(clinic_a, clinic_b, plans, clock):
    from bookwell.audit.models import ActorKind
    from bookwell.audit.services import Actor, audit_record, audit_retention, audit_verify

    clinic_a.plan = "small"  # 30 days
    clinic_a.save()
    clinic_b.plan = "trial"  # 90 days
    clinic_b.save()
    for clinic in (clinic_a, clinic_b):
        audit_record(action=Action.SIGNOUT, actor=Actor(ActorKind.USER, "7"), clinic_id=clinic.pk)
    clock.shift(dt.timedelta(days=31))
    for clinic in (clinic_a, clinic_b):
        audit_record(action=Action.SIGNOUT, actor=Actor(ActorKind.USER, "7"), clinic_id=clinic.pk)
    assert audit_retention()["events"] == 1  # clinic A's first event, past its 30 days

    def kept(clinic: Clinic) -> int:
        with clinic_context(clinic):
            return AuditEvent.objects.filter(clinic_id=clinic.pk).count()

    assert (kept(clinic_a), kept(clinic_b)) == (1, 2)
    assert audit_verify(clinic_a.pk).intact
    clock.shift(dt.timedelta(days=60))
    assert audit_retention()["events"] == 2  # B's first (90 days), A's second (31+ days)
    assert (kept(clinic_a), kept(clinic_b)) == (0, 1)


def test_clinics_from_before_the_allowances_keep_working_on_the_unlimited_plan(
    clinic_a, clinic_b, settings
):
    """Migration tenancy 0010: clinics that existed before allowances were enforced move to
    the unlimited plan; an installation whose own plans have none leaves them be."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "bookwell.tenancy.migrations.0010_existing_clinics_unlimited"
    )
    Clinic.objects.filter(pk=clinic_a.pk).update(plan="trial")
    Clinic.objects.filter(pk=clinic_b.pk).update(plan="standard")
    settings.PLANS = {"trial": {"name": "Trial", "audit_retention_days": 90}}
    migration.existing_clinics_unlimited(apps, None)
    assert set(Clinic.objects.values_list("plan", flat=True)) == {"trial", "standard"}
    settings.PLANS = small_plan()
    migration.existing_clinics_unlimited(apps, None)
    assert set(Clinic.objects.values_list("plan", flat=True)) == {"unlimited"}


def test_a_plan_taken_out_of_the_settings_counts_as_the_default_and_blocks_nothing(clinic_a, plans):
    from bookwell.tenancy.plans import plan_of
    from tests.security.registry import _settings_form

    Clinic.objects.filter(pk=clinic_a.pk).update(plan="retired-plan")
    clinic_a.refresh_from_db()
    assert plan_of(clinic_a).code == plans.DEFAULT_PLAN
    owner = signed_in_client(make_member(clinic_a, Role.OWNER))
    saved = owner.post(
        reverse("tenancy:settings", kwargs={"clinic_slug": clinic_a.slug}),
        _settings_form(clinic_a),
    )
    assert saved.status_code == 302  # the clinic's own settings still save
    clinic_a.refresh_from_db()
    assert clinic_a.name.endswith("renamed") and clinic_a.plan == "retired-plan"


def test_a_plan_that_names_no_audit_term_keeps_two_years():
    from django.test import override_settings

    from bookwell.tenancy.plans import plans as configured

    with override_settings(PLANS={"bare": {"name": "Bare"}}, DEFAULT_PLAN="bare"):
        assert configured()["bare"].audit_retention_days == 730
