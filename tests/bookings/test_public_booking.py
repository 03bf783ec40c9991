"""The public booking page, driven as a client would with plain requests (no JavaScript):
service, staff member, a month with free days, a time, details, confirmation, then the
manage link to reschedule and cancel; the waitlist; consent (P18); bots and stale pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.test import Client
from django.urls import reverse

from bookwell.bookings import manage_links
from bookwell.bookings.models import (
    Appointment,
    OfferStatus,
    Source,
    Status,
    WaitlistEntry,
    WaitlistOffer,
)
from bookwell.bookings.services import BookingRequest, appointment_book, appointment_cancel
from bookwell.clients.models import Client as ClientRecord
from bookwell.clients.models import ConsentRecord
from bookwell.clients.services import ClientInput, client_create, privacy_notice_publish
from bookwell.core.context import clinic_context
from bookwell.scheduling.models import WorkingHours
from tests.bookings.factories import Setup, schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# Tuesday 4 March 2031, 10:00 in Berlin.
START = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def setup(clinic_a, clock) -> Setup:
    s = schedule(clinic_a, min_notice_min=60, cancel_notice_min=24 * 60)
    with clinic_context(clinic_a):
        for staff in (s.staff, s.other_staff):
            for weekday in range(5):  # Monday to Friday, 9:00-12:00 and 13:00-17:00
                for a, b in ((9 * 60, 12 * 60), (13 * 60, 17 * 60)):
                    WorkingHours.objects.create(
                        clinic=clinic_a,
                        staff=staff,
                        location=s.location,
                        weekday=weekday,
                        start_min=a,
                        end_min=b,
                    )
    return s


def _url(name: str, clinic, **kwargs) -> str:
    return reverse(name, kwargs={"clinic_slug": clinic.slug, **kwargs})


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def _ticket(html: str) -> str:
    match = re.search(r'name="ticket" value="([^"]+)"', html)
    assert match, "the form carries a ticket"
    return match.group(1)


def _details_form(browser: Client, clinic, setup: Setup, start: dt.datetime, staff="any"):
    url = _url("book:details", clinic, service_id=setup.service.pk)
    page = browser.get(url, {"staff": staff, "start": int(start.timestamp())})
    assert page.status_code == 200
    return url, _ticket(page.content.decode())


def _book(browser, clinic, setup, start, clock, staff="any", **fields):
    url, ticket = _details_form(browser, clinic, setup, start, staff)
    clock.shift(5)  # a person takes a few seconds
    data = {
        "full_name": "Mia Online",
        "email": "mia@example.test",
        "staff": staff,
        "start": int(start.timestamp()),
        "ticket": ticket,
        **fields,
    }
    return browser.post(url, data)


def _appointments(clinic) -> list[Appointment]:
    with clinic_context(clinic):
        return list(Appointment.objects.order_by("created_at"))


def test_a_client_books_then_reschedules_then_cancels_through_the_pages(clinic_a, setup, clock):
    browser = Client()
    services = browser.get(_url("book:services", clinic_a))
    assert setup.service.name in services.content.decode()

    staff_page = browser.get(_url("book:service", clinic_a, service_id=setup.service.pk))
    assert "No preference" in staff_page.content.decode()
    assert "Dr. One" in staff_page.content.decode()

    month = browser.get(
        _url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03"},
    )
    html = month.content.decode()
    # Thursday the 6th is a working day; Saturday the 8th is not; the 3rd is past.
    assert "day=2031-03-06" in html
    assert "day=2031-03-08" not in html
    assert "day=2031-03-03" not in html

    day = browser.get(
        _url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03", "day": "2031-03-06"},
    )
    stamps = [int(s) for s in re.findall(r"start=(\d+)", day.content.decode())]
    chosen = _local(dt.date(2031, 3, 6), 10, 0)
    assert int(chosen.timestamp()) in stamps
    assert int(_local(dt.date(2031, 3, 6), 12, 0).timestamp()) not in stamps  # lunch break

    booked = _book(browser, clinic_a, setup, chosen, clock, staff=str(setup.staff.pk))
    assert booked.status_code == 302
    [appointment] = _appointments(clinic_a)
    assert appointment.start == chosen
    assert appointment.staff_id == setup.staff.pk
    assert appointment.source == Source.ONLINE
    assert appointment.status == Status.CONFIRMED

    confirmation = browser.get(booked["Location"])
    text = confirmation.content.decode()
    assert "You are booked." in text
    assert confirmation["Referrer-Policy"] == "no-referrer"
    token = booked["Location"].split("/manage/")[1].split("/")[0]
    # Only a hash of the token is stored.
    assert appointment.manage_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(appointment.__dict__)

    ics = browser.get(_url("book:ics", clinic_a, token=token))
    assert ics["Content-Type"].startswith("text/calendar")
    [event] = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    # 10:00 in Berlin, written on the clinic's clock with its zone: 09:00 UTC.
    assert event.decoded("dtstart").astimezone(dt.UTC) == dt.datetime(2031, 3, 6, 9, tzinfo=dt.UTC)
    assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(minutes=30)
    assert str(event["uid"]) == f"{appointment.pk}@bookwell"

    later = _local(dt.date(2031, 3, 7), 14, 0)
    move_page = browser.get(
        _url("book:manage-reschedule", clinic_a, token=token), {"day": "2031-03-07"}
    )
    assert str(int(later.timestamp())) in move_page.content.decode()
    moved = browser.post(
        _url("book:manage-reschedule", clinic_a, token=token), {"start": int(later.timestamp())}
    )
    assert moved.status_code == 302
    [appointment] = _appointments(clinic_a)
    assert appointment.start == later

    cancelled = browser.post(_url("book:manage-cancel", clinic_a, token=token))
    assert cancelled.status_code == 302
    [appointment] = _appointments(clinic_a)
    assert appointment.status == Status.CANCELLED_BY_CLIENT
    assert dict(browser.cookies) == {}  # P19: no cookie at any step


def test_no_preference_books_whoever_is_free(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    with clinic_context(clinic_a):
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=start),
        )

    response = _book(Client(), clinic_a, setup, start, clock)

    assert response.status_code == 302
    online = [a for a in _appointments(clinic_a) if a.source == Source.ONLINE]
    assert [a.staff_id for a in online] == [setup.other_staff.pk]


def test_a_stale_page_says_the_time_was_just_taken_and_shows_fresh_times(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    browser = Client()
    url, ticket = _details_form(browser, clinic_a, setup, start, str(setup.staff.pk))
    with clinic_context(clinic_a):  # someone else takes it meanwhile
        appointment_book(
            clinic=clinic_a,
            request=BookingRequest(service=setup.service, staff=setup.staff, start=start),
        )
    clock.shift(5)

    response = browser.post(
        url,
        {
            "full_name": "Late Comer",
            "email": "late@example.test",
            "staff": setup.staff.pk,
            "start": int(start.timestamp()),
            "ticket": ticket,
        },
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert "this time was just taken" in html
    stamps = [int(s) for s in re.findall(r"start=(\d+)", html)]
    assert stamps and int(start.timestamp()) not in stamps
    assert len(_appointments(clinic_a)) == 1
    with clinic_context(clinic_a):
        assert ClientRecord.objects.count() == 0  # nothing half-written


def test_required_consent_is_recorded_with_the_notice_version(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        privacy_notice_publish(clinic=clinic_a, body="Version one.")
        notice = privacy_notice_publish(clinic=clinic_a, body="Version two.")
    clinic_a.require_consent = True
    clinic_a.save()
    start = _local(dt.date(2031, 3, 6), 10, 0)

    refused = _book(Client(), clinic_a, setup, start, clock)
    assert refused.status_code == 400
    assert "accept" in refused.content.decode()
    assert _appointments(clinic_a) == []

    accepted = _book(Client(), clinic_a, setup, start, clock, consent="on", notice=notice.pk)
    assert accepted.status_code == 302
    with clinic_context(clinic_a):
        [record] = ConsentRecord.objects.all()
        assert record.notice_id == notice.pk
        assert record.notice.version == 2
        assert record.method == "online"


def test_the_same_form_sent_twice_keeps_the_first_link_and_one_consent(clinic_a, setup, clock):
    """A double tap or back-and-send-again: one appointment, and the link on the first
    confirmation page (and in its .ics) keeps working."""
    with clinic_context(clinic_a):
        notice = privacy_notice_publish(clinic=clinic_a, body="Version one.")
    clinic_a.require_consent = True
    clinic_a.save()
    start = _local(dt.date(2031, 3, 6), 10, 0)
    browser = Client()
    url, ticket = _details_form(browser, clinic_a, setup, start)
    clock.shift(5)
    data = {
        "full_name": "Mia Online",
        "email": "mia@example.test",
        "staff": "any",
        "start": int(start.timestamp()),
        "ticket": ticket,
        "consent": "on",
        "notice": notice.pk,
    }
    first, again = browser.post(url, data), browser.post(url, data)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert len(_appointments(clinic_a)) == 1
    assert Client().get(first["Location"]).status_code == 200
    with clinic_context(clinic_a):
        assert ConsentRecord.objects.count() == 1


def test_a_client_may_book_under_a_pseudonym_only_where_the_clinic_allows_it(
    clinic_a, setup, clock
):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    form = Client().get(
        _url("book:details", clinic_a, service_id=setup.service.pk),
        {"staff": "any", "start": int(start.timestamp())},
    )
    assert "name_is_pseudonym" not in form.content.decode()  # not offered by default
    sent = _book(Client(), clinic_a, setup, start, clock, full_name="M.S.", name_is_pseudonym="on")
    assert sent.status_code == 302
    with clinic_context(clinic_a):
        assert ClientRecord.objects.get().name_kind == "full"  # the box is ignored

    clinic_a.allow_pseudonyms = True
    clinic_a.save()
    later = _local(dt.date(2031, 3, 6), 11, 0)
    form = Client().get(
        _url("book:details", clinic_a, service_id=setup.service.pk),
        {"staff": "any", "start": int(later.timestamp())},
    )
    assert "This is not my full name" in form.content.decode()
    sent = _book(
        Client(),
        clinic_a,
        setup,
        later,
        clock,
        full_name="Moonlight",
        email="moon@example.test",
        name_is_pseudonym="on",
    )
    assert sent.status_code == 302
    with clinic_context(clinic_a):
        newest = ClientRecord.objects.order_by("created_at").last()
        assert newest is not None and newest.full_name == "Moonlight"
        assert newest.name_kind == "pseudonym"


def test_consent_to_an_outdated_notice_is_refused(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        old = privacy_notice_publish(clinic=clinic_a, body="Version one.")
        privacy_notice_publish(clinic=clinic_a, body="Version two.")
    clinic_a.require_consent = True
    clinic_a.save()

    response = _book(
        Client(),
        clinic_a,
        setup,
        _local(dt.date(2031, 3, 6), 10),
        clock,
        consent="on",
        notice=old.pk,
    )

    assert response.status_code == 400
    assert "privacy notice has changed" in response.content.decode()
    assert _appointments(clinic_a) == []


def test_the_contact_details_the_clinic_requires(clinic_a, setup, clock):
    clinic_a.booking_contact = "phone"
    clinic_a.save()
    start = _local(dt.date(2031, 3, 6), 10, 0)

    without = _book(Client(), clinic_a, setup, start, clock)
    with_phone = _book(Client(), clinic_a, setup, start, clock, phone="+49 30 1234567")

    assert without.status_code == 400
    assert "This field is required" in without.content.decode()
    assert with_phone.status_code == 302


def test_bots_filling_the_honeypot_or_posting_at_once_are_refused(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    browser = Client()
    url, ticket = _details_form(browser, clinic_a, setup, start)
    data = {
        "full_name": "Bot",
        "email": "bot@example.test",
        "staff": "any",
        "start": int(start.timestamp()),
        "ticket": ticket,
    }

    instant = browser.post(url, data)
    clock.shift(5)
    honeypot = browser.post(url, {**data, "website": "http://spam.example"})
    forged = browser.post(url, {**data, "ticket": ticket[:-2] + "xx"})

    assert [instant.status_code, honeypot.status_code, forged.status_code] == [400, 400, 400]
    assert _appointments(clinic_a) == []


def test_bookings_are_rate_limited_per_network(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    url = _url("book:details", clinic_a, service_id=setup.service.pk)
    junk = {"staff": "any", "start": int(start.timestamp())}  # an invalid form: 400
    statuses = [
        Client(REMOTE_ADDR=f"203.0.113.{i}").post(url, junk).status_code for i in range(1, 23)
    ]
    elsewhere = Client(REMOTE_ADDR="198.51.100.7").post(url, junk)

    assert statuses[:20] == [400] * 20
    assert statuses[20:] == [429, 429]
    assert elsewhere.status_code == 400


def test_an_existing_client_with_the_same_email_is_reused_and_not_changed(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        known = client_create(
            clinic=clinic_a, data=ClientInput(full_name="Mia Known", email="mia@example.test")
        )

    response = _book(Client(), clinic_a, setup, _local(dt.date(2031, 3, 6), 10), clock)

    assert response.status_code == 302
    [appointment] = _appointments(clinic_a)
    assert appointment.client_id == known.pk
    with clinic_context(clinic_a):
        assert ClientRecord.objects.count() == 1
        assert ClientRecord.objects.get().full_name == "Mia Known"


def test_a_restricted_client_cannot_be_booked_online(clinic_a, setup, clock):
    with clinic_context(clinic_a):
        known = client_create(
            clinic=clinic_a, data=ClientInput(full_name="Mia Known", email="mia@example.test")
        )
        ClientRecord.objects.filter(pk=known.pk).update(restricted=True)

    response = _book(Client(), clinic_a, setup, _local(dt.date(2031, 3, 6), 10), clock)

    assert response.status_code == 409
    assert "contact the clinic" in response.content.decode()
    assert _appointments(clinic_a) == []


def test_cancelling_inside_the_window_is_refused_online(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 5), 9, 0)  # tomorrow morning: inside the 24 h window
    booked = _book(Client(), clinic_a, setup, start, clock)
    token = booked["Location"].split("/manage/")[1].split("/")[0]

    page = Client().get(_url("book:manage", clinic_a, token=token))
    attempt = Client().post(_url("book:manage-cancel", clinic_a, token=token))

    assert "Cancel this appointment" not in page.content.decode()
    assert attempt.status_code == 409
    assert "Please call the clinic" in attempt.content.decode()
    [appointment] = _appointments(clinic_a)
    assert appointment.status == Status.CONFIRMED


def test_a_wrong_or_expired_link_shows_a_helpful_page(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    booked = _book(Client(), clinic_a, setup, start, clock)
    token = booked["Location"].split("/manage/")[1].split("/")[0]

    wrong = Client().get(_url("book:manage", clinic_a, token="x" * 43))
    clock.move_to(start + dt.timedelta(hours=2))
    expired = Client().get(_url("book:manage", clinic_a, token=token))

    for response in (wrong, expired):
        assert response.status_code == 404
        assert "This link no longer works" in response.content.decode()


def test_a_new_link_revokes_the_old_one(clinic_a, setup, clock):
    booked = _book(Client(), clinic_a, setup, _local(dt.date(2031, 3, 6), 10), clock)
    old = booked["Location"].split("/manage/")[1].split("/")[0]
    [appointment] = _appointments(clinic_a)
    with clinic_context(clinic_a):
        new = manage_links.issue(appointment)
        assert manage_links.token_for(appointment) == new

    assert Client().get(_url("book:manage", clinic_a, token=old)).status_code == 404
    assert Client().get(_url("book:manage", clinic_a, token=new)).status_code == 200


def _join_waitlist(browser: Client, clinic, setup: Setup, clock) -> str:
    """Joins the waitlist for the setup's staff member, 5-8 March; the waitlist's own page."""
    url = _url("book:waitlist", clinic, service_id=setup.service.pk)
    ticket = _ticket(browser.get(url, {"staff": setup.staff.pk}).content.decode())
    clock.shift(5)
    joined = browser.post(
        url,
        {
            "full_name": "Wait Ing",
            "email": "wait@example.test",
            "staff": setup.staff.pk,
            "first_day": "2031-03-05",
            "last_day": "2031-03-08",
            "ticket": ticket,
        },
    )
    assert joined.status_code == 302
    return str(joined["Location"].split("?")[0])


def test_the_waitlist_offers_a_freed_time_that_the_client_accepts(clinic_a, setup, clock):
    day = dt.date(2031, 3, 6)
    start = _local(day, 10, 0)
    with clinic_context(clinic_a):
        other = client_create(clinic=clinic_a, data=ClientInput(full_name="First Booker"))
        taken = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start, client=other
            ),
        )
    browser = Client()
    waitlist_url = _join_waitlist(browser, clinic_a, setup, clock)
    assert "Leave the waitlist" in browser.get(waitlist_url).content.decode()

    with clinic_context(clinic_a):
        appointment_cancel(appointment=taken, by_client=False)
        offer = WaitlistOffer.objects.get()
    page = browser.get(waitlist_url).content.decode()
    assert "A time for you" in page

    accepted = browser.post(waitlist_url, {"action": "accept", "offer": offer.pk})

    assert accepted.status_code == 302
    assert "/manage/" in accepted["Location"]
    with clinic_context(clinic_a):
        offer.refresh_from_db()
        assert offer.status == OfferStatus.ACCEPTED
        booked = Appointment.objects.get(pk=offer.appointment_id)
        assert booked.start == start
        assert booked.client.full_name == "Wait Ing"
        assert WaitlistEntry.objects.get().status == "booked"


def test_leaving_the_waitlist_passes_an_open_offer_to_the_next(clinic_a, setup, clock):
    start = _local(dt.date(2031, 3, 6), 10, 0)
    with clinic_context(clinic_a):
        from bookwell.bookings.waitlist import waitlist_join

        people = [
            client_create(clinic=clinic_a, data=ClientInput(full_name=f"Person {i}"))
            for i in range(3)
        ]
        taken = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start, client=people[0]
            ),
        )
        first = waitlist_join(
            clinic=clinic_a,
            client=people[1],
            service=setup.service,
            first_day=dt.date(2031, 3, 5),
            last_day=dt.date(2031, 3, 8),
        )
        clock.shift(1)
        second = waitlist_join(
            clinic=clinic_a,
            client=people[2],
            service=setup.service,
            first_day=dt.date(2031, 3, 5),
            last_day=dt.date(2031, 3, 8),
        )
        token = manage_links.issue(first)
        appointment_cancel(appointment=taken, by_client=False)
        assert WaitlistOffer.objects.get().entry_id == first.pk

    left = Client().post(_url("book:waitlist-manage", clinic_a, token=token), {"action": "leave"})

    assert left.status_code == 302
    with clinic_context(clinic_a):
        offers = {o.entry_id: o.status for o in WaitlistOffer.objects.all()}
        assert offers == {first.pk: OfferStatus.EXPIRED, second.pk: OfferStatus.OPEN}


def test_online_booking_switched_off_offers_nothing(clinic_a, setup, clock):
    clinic_a.online_booking = False
    clinic_a.save()

    services = Client().get(_url("book:services", clinic_a))
    service = Client().get(_url("book:service", clinic_a, service_id=setup.service.pk))

    assert setup.service.name not in services.content.decode()
    assert service.status_code == 404


def test_times_are_shown_in_the_clinics_time_zone_across_the_spring_change(clinic_a, setup, clock):
    # Europe/Berlin moves its clocks forward on Sunday 30 March 2031; Monday's 9:00 is 07:00 UTC.
    response = Client().get(
        _url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03", "day": "2031-03-31"},
    )
    stamps = [int(s) for s in re.findall(r"start=(\d+)", response.content.decode())]
    assert stamps[0] == int(dt.datetime(2031, 3, 31, 7, 0, tzinfo=dt.UTC).timestamp())
    assert ">09:00<" in response.content.decode()


def test_the_booking_flow_speaks_german(clinic_a, setup, clock):
    day = Client().get(
        _url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03", "day": "2031-03-06", "lang": "de"},
    )
    html = day.content.decode()
    assert '<html lang="de">' in html
    assert "Donnerstag, 6. März" in html  # the German order of a date, not the English one
    assert "Zum Inhalt springen" in html  # the page's frame too
    assert ">10:00<" in html  # German time format
    assert "Auf die Warteliste" in html
    missing = Client().get("/book/no-such-clinic/?lang=de", HTTP_ACCEPT_LANGUAGE="de")
    assert missing.status_code == 404
    assert "Seite nicht gefunden" in missing.content.decode()
    gone = Client().get(_url("book:service", clinic_a, service_id=999999), {"lang": "de"})
    assert gone.status_code == 404
    assert "Seite nicht gefunden" in gone.content.decode()
    assert "Cache-Control" in gone.headers and not gone.cookies

    clinic_a.locale = "de"
    clinic_a.save()
    refused = _book(Client(), clinic_a, setup, _local(dt.date(2031, 3, 6), 10), clock, email="")
    assert "Dieses Feld ist zwingend erforderlich" in refused.content.decode()


def test_an_offer_accepted_when_the_clinics_plan_is_full_stays_open(
    clinic_a, setup, clock, settings
):
    """The time is still free; the clinic's plan has no booking left this month (P9): the
    client is told to contact the clinic, and the offer is not used up."""
    settings.PLANS = {
        **settings.PLANS,
        "one": {"name": "One", "bookings_per_month": 1, "audit_retention_days": 30},
    }
    clinic_a.plan = "one"
    clinic_a.save()
    start = _local(dt.date(2031, 3, 6), 10, 0)
    with clinic_context(clinic_a):
        other = client_create(clinic=clinic_a, data=ClientInput(full_name="First Booker"))
        taken = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service, staff=setup.staff, start=start, client=other
            ),
        )
    browser = Client()
    waitlist_url = _join_waitlist(browser, clinic_a, setup, clock)
    with clinic_context(clinic_a):
        appointment_cancel(appointment=taken, by_client=False)  # a booking used is not refunded
        offer = WaitlistOffer.objects.get()

    refused = browser.post(waitlist_url, {"action": "accept", "offer": offer.pk})

    assert refused.status_code == 409
    page = refused.content.decode()
    assert "cannot take more online bookings this month" in page
    assert "A time for you" in page  # the offer is still there to take later
    with clinic_context(clinic_a):
        offer.refresh_from_db()
        assert offer.status == OfferStatus.OPEN
        assert WaitlistEntry.objects.get().status == "offered"
        assert Appointment.objects.filter(status=Status.CONFIRMED).count() == 0


def test_the_month_links_keep_the_chosen_staff_member(clinic_a, setup, clock):
    """A staff member chosen by id: the month's day and month links carry it (they once lost
    their whole query, and every click on a day was a 404)."""
    page = Client().get(
        _url("book:service", clinic_a, service_id=setup.service.pk),
        {"staff": setup.staff.pk, "month": "2031-03"},
    )
    html = page.content.decode()
    assert f'href="?staff={setup.staff.pk}&amp;lang=' in html
    day = re.search(r'class="day free[^"]*" href="([^"]+)"', html)
    assert day is not None and day.group(1).startswith(f"?staff={setup.staff.pk}&amp;")
    follow = Client().get(
        _url("book:service", clinic_a, service_id=setup.service.pk)
        + day.group(1).replace("&amp;", "&").split("#")[0]
    )
    assert follow.status_code == 200 and 'class="times"' in follow.content.decode()
