"""Usage telemetry (P8): each counted action adds one to its feature's counter for the day,
in the action's transaction; counts race safely; old days roll up into months; the tables
cannot hold who did what; the operator sees the totals and nobody else does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import models
from django.urls import reverse

from bookwell.bookings.services import (
    BookingRequest,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from bookwell.clients.csv_io import import_clients
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications import services as notifications
from bookwell.notifications.models import ReminderRule
from bookwell.scheduling.models import WorkingHours
from bookwell.telemetry.models import Feature, UsageDay, UsageMonth
from bookwell.telemetry.services import usage_count, usage_rollup
from bookwell.tenancy.models import Role
from tests.bookings.factories import schedule, together
from tests.conftest import signed_in_client
from tests.factories import UserFactory, make_member
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Berlin
AT = dt.datetime(2031, 3, 5, 9, 0, tzinfo=dt.UTC)  # Wednesday, 10:00 in Berlin
TODAY = START.date()


def _counts(clinic) -> dict[tuple[str, dt.date], int]:
    with clinic_context(clinic):
        return {(r.feature, r.day): r.count for r in UsageDay.objects.all()}


def _hours(setup) -> None:
    with clinic_context(setup.clinic):
        for weekday in range(7):
            WorkingHours.objects.create(
                clinic=setup.clinic,
                staff=setup.staff,
                location=setup.location,
                weekday=weekday,
                start_min=8 * 60,
                end_min=18 * 60,
            )


def test_bookings_moves_and_cancellations_are_counted_once_each_and_refusals_not_at_all(
    clinic_a, clinic_b, clock
):
    setup = schedule(clinic_a)
    with clinic_context(clinic_a):
        request = BookingRequest(service=setup.service, staff=setup.staff, start=AT)
        booked = appointment_book(clinic=clinic_a, request=request, idempotency_key="k-1")
        assert _counts(clinic_a) == {("booking_created", TODAY): 1}
        # The same request again (a retry) returns the booking without counting it again.
        appointment_book(clinic=clinic_a, request=request, idempotency_key="k-1")
        with pytest.raises(SlotTaken):
            appointment_book(
                clinic=clinic_a,
                request=BookingRequest(service=setup.service, staff=setup.staff, start=AT),
            )
        assert _counts(clinic_a) == {("booking_created", TODAY): 1}
        appointment_reschedule(
            clinic=clinic_a, appointment=booked, start=AT + dt.timedelta(hours=2)
        )
        appointment_cancel(appointment=booked, by_client=False)
    assert _counts(clinic_a) == {
        ("booking_created", TODAY): 1,
        ("booking_rescheduled", TODAY): 1,
        ("booking_cancelled", TODAY): 1,
    }
    assert _counts(clinic_b) == {}  # another clinic's counters are its own


def test_an_api_booking_counts_the_booking_and_the_call_and_a_refused_call_counts_nothing(
    clinic_a, clock
):
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a)
    _hours(setup)
    api = ApiClient(token_for(clinic_a))
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT.isoformat()}
    assert api.post("/appointments", body).status_code == 201
    assert api.post("/appointments", body).status_code == 409  # taken: rolled back, uncounted
    assert api.get("/services").status_code == 200
    assert api.get("/appointments", {"limit": 5}).status_code == 200
    reader = ApiClient(token_for(clinic_a, scopes=["schedule:read"]))
    assert reader.post("/appointments", body).status_code == 403  # no scope: not counted
    assert _counts(clinic_a) == {
        ("booking_created", TODAY): 1,
        ("api_appointments", TODAY): 2,
        ("api_schedule", TODAY): 1,
    }


def test_exports_imports_and_sent_messages_are_counted(clinic_a, clock):
    setup = schedule(clinic_a)
    owner = make_member(clinic_a, Role.OWNER)
    desk = signed_in_client(owner)
    export = desk.get(reverse("clients:export", kwargs={"clinic_slug": clinic_a.slug}))
    assert export.status_code == 200
    b"".join(export.streaming_content)
    with clinic_context(clinic_a):
        report = import_clients(
            clinic=clinic_a, data=b"full_name,email\nAda Import,ada.import@example.test\n"
        )
        assert report.imported == 1
        ReminderRule.objects.create(clinic=clinic_a, minutes_before=60)
        person = client_create(
            clinic=clinic_a, data=ClientInput(full_name="Ada", email="ada@example.test")
        )
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=AT, client=person
            ),
        )
    assert notifications.dispatch_due() == {"sent": 1}  # the confirmation
    clock.move_to(AT - dt.timedelta(minutes=50))
    assert notifications.reminders_scan() == 1
    assert notifications.dispatch_due() == {"sent": 1}  # the reminder
    assert len(mail.outbox) == 2
    reminder_day = (AT - dt.timedelta(minutes=50)).date()
    counts = _counts(clinic_a)
    assert counts[("client_export", TODAY)] == 1
    assert counts[("client_import", TODAY)] == 1
    assert counts[("email_sent", TODAY)] + counts.get(("email_sent", reminder_day), 0) == 2
    assert counts[("reminder_sent", reminder_day)] == 1
    assert not any(feature == "sms_sent" for feature, _ in counts)


@pytest.mark.django_db(transaction=True)
def test_counts_made_at_the_same_moment_all_land(clinic_a):
    workers = 8

    def attempt(i: int) -> None:
        with clinic_context(clinic_a):
            from django.db import transaction

            with transaction.atomic():
                usage_count(Feature.BOOKING_CREATED, n=2)

    results, errors = together(workers, attempt)

    assert errors == [] and len(results) == workers
    with clinic_context(clinic_a):
        [row] = UsageDay.objects.all()
    assert row.count == 2 * workers


def test_counting_outside_a_clinic_is_refused():
    from bookwell.core.context import NoActiveClinic

    with pytest.raises(NoActiveClinic):
        usage_count(Feature.BOOKING_CREATED)


def test_days_past_the_window_roll_up_into_months_with_the_same_totals(clinic_a, clinic_b):
    now = dt.datetime(2031, 6, 15, 12, 0, tzinfo=dt.UTC)  # window (90 days): from 1 March
    days = {
        dt.date(2031, 1, 3): 4,
        dt.date(2031, 1, 30): 6,
        dt.date(2031, 2, 27): 5,
        dt.date(2031, 3, 1): 7,  # inside the window: kept per day
        dt.date(2031, 6, 14): 1,
    }
    for clinic, factor in ((clinic_a, 1), (clinic_b, 10)):
        with clinic_context(clinic):
            for day, n in days.items():
                usage_count(
                    Feature.BOOKING_CREATED,
                    n=n * factor,
                    now=dt.datetime.combine(day, dt.time(12), dt.UTC),
                )
            usage_count(Feature.SMS_SENT, n=2, now=dt.datetime(2031, 1, 5, tzinfo=dt.UTC))

    assert usage_rollup(now=now) == 2 * 4  # three old booking days and one SMS day per clinic
    assert usage_rollup(now=now) == 0  # nothing left to fold

    with clinic_context(clinic_a):
        months = {(r.feature, r.month): r.count for r in UsageMonth.objects.all()}
        kept = {r.day: r.count for r in UsageDay.objects.all()}
    assert months == {
        ("booking_created", dt.date(2031, 1, 1)): 10,
        ("booking_created", dt.date(2031, 2, 1)): 5,
        ("sms_sent", dt.date(2031, 1, 1)): 2,
    }
    assert kept == {dt.date(2031, 3, 1): 7, dt.date(2031, 6, 14): 1}
    with clinic_context(clinic_b):
        assert (
            UsageMonth.objects.get(month=dt.date(2031, 1, 1), feature="booking_created").count
            == 100
        )
    # A later roll-up adds to a month already summed.
    with clinic_context(clinic_a):
        usage_count(Feature.BOOKING_CREATED, n=3, now=dt.datetime(2031, 2, 2, tzinfo=dt.UTC))
    usage_rollup(now=now)
    with clinic_context(clinic_a):
        assert (
            UsageMonth.objects.get(month=dt.date(2031, 2, 1), feature="booking_created").count == 8
        )


def test_the_usage_tables_cannot_hold_who_did_what_or_any_text():
    """P8: a clinic, a feature from a fixed list, a period and a number; nothing else."""
    allowed = {"id", "clinic", "feature", "day", "month", "count"}
    for model in (UsageDay, UsageMonth):
        fields = model._meta.get_fields()
        assert {f.name for f in fields} <= allowed, model
        for f in fields:
            if f.is_relation:
                assert f.name == "clinic" and f.related_model._meta.label == "tenancy.Clinic"
            if isinstance(f, models.CharField):
                assert f.choices, f"{model.__name__}.{f.name} must be one of a fixed list"
            assert not isinstance(
                f, models.TextField | models.JSONField | models.GenericIPAddressField
            ), f
    assert {f.value for f in Feature} == {c for c, _ in UsageDay._meta.get_field("feature").choices}


def test_the_operator_sees_usage_across_clinics_and_nobody_else_finds_the_page(
    clinic_a, clinic_b, clock
):
    with clinic_context(clinic_a):
        usage_count(Feature.BOOKING_CREATED, n=3)
    with clinic_context(clinic_b):
        usage_count(Feature.BOOKING_CREATED, n=4)
        usage_count(Feature.SMS_SENT, n=2)
    with platform_scope("test"):
        UsageMonth.objects.create(
            clinic=clinic_a, feature=Feature.EMAIL_SENT, month=dt.date(2030, 11, 1), count=42
        )
    url = reverse("operator-usage")
    page = signed_in_client(UserFactory(is_operator=True)).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Appointments booked: <strong>7</strong>" in html
    assert "Text messages sent: <strong>2</strong>" in html
    assert "Clinic A" in html and "Clinic B" in html
    assert "November 2030" in html and "<td>42</td>" in html
    assert html.count("<svg") == len(Feature)
    owner = make_member(clinic_a, Role.OWNER)
    assert signed_in_client(owner).get(url).status_code == 404
    assert signed_in_client(UserFactory()).get(url).status_code == 404


def test_api_reads_commit_their_counts_without_waiting_for_the_disk_and_writes_do_wait(
    clinic_a, clock, monkeypatch
):
    """A read's only writes are its counters: its commit need not wait for a disk flush
    (which would queue concurrent reads of one clinic on the counter rows). A booking's must."""
    from bookwell.integrations import auth

    relaxed: list[str] = []
    monkeypatch.setattr(auth, "counts_only_commit", lambda: relaxed.append("relaxed"))
    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    setup = schedule(clinic_a)
    _hours(setup)
    api = ApiClient(token_for(clinic_a))
    assert api.get("/services").status_code == 200
    assert relaxed == ["relaxed"]
    body = {"service": setup.service.pk, "staff": setup.staff.pk, "start": AT.isoformat()}
    assert api.post("/appointments", body).status_code == 201
    assert relaxed == ["relaxed"]  # not for a booking
    with clinic_context(clinic_a):
        person = client_create(clinic=clinic_a, data=ClientInput(full_name="Ada Durable"))
    assert api.get(f"/clients/{person.pk}").status_code == 200
    assert relaxed == ["relaxed"]  # nor for a read that recorded an audit event (P5)


@pytest.mark.django_db(transaction=True)
def test_a_counts_only_commit_is_relaxed_for_its_own_transaction_alone():
    from django.db import connection, transaction

    from bookwell.telemetry.services import counts_only_commit

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's (SQLite's commit is local)")

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit')")
            return str(cursor.fetchone()[0])

    before = setting()
    assert before == "on"
    with transaction.atomic():
        counts_only_commit()
        assert setting() == "off"
    assert setting() == before  # the next transaction waits for the disk again
