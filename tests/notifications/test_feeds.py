"""Staff calendar feeds: a secret link (only its hash kept), service, times and initials only,
revocable; a staff member manages their own, managers anyone's."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.urls import reverse

from bookwell.bookings.services import BookingRequest, appointment_book
from bookwell.clients.models import Client as ClientRecord
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.notifications.models import CalendarFeed
from bookwell.scheduling.models import StaffMember
from bookwell.tenancy.permissions import Role
from tests.bookings.factories import schedule
from tests.conftest import signed_in_client
from tests.factories import make_member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2031, 3, 20, 8, 0, tzinfo=dt.UTC)


def _link(response) -> str:
    found = re.search(r"/feeds/([A-Za-z0-9_-]+)\.ics", response.content.decode())
    assert found, "no link shown"
    return found.group(0)


def test_a_practitioner_subscribes_to_their_own_calendar_and_can_stop_it(clinic_a, clock):
    setup = schedule(clinic_a)
    user = make_member(clinic_a, Role.PRACTITIONER)
    with clinic_context(clinic_a):
        StaffMember.objects.filter(pk=setup.staff.pk).update(user=user)
        client = client_create(
            clinic=clinic_a,
            data=ClientInput(full_name="Maria Anna Beispiel", email="m@example.test"),
        )
        appointment = appointment_book(
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.staff,
                start=dt.datetime(2031, 3, 25, 10, tzinfo=BERLIN),
                client=client,
            ),
        )
        appointment_book(  # someone else's appointment: not in this feed
            clinic=clinic_a,
            request=BookingRequest(
                service=setup.service,
                staff=setup.other_staff,
                start=dt.datetime(2031, 3, 25, 10, tzinfo=BERLIN),
            ),
        )
    browser = signed_in_client(user)

    page = browser.post(reverse("notifications:my-feed-issue", args=[setup.staff.pk]))
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    link = _link(page)
    token = link.removeprefix("/feeds/").removesuffix(".ics")
    with clinic_context(clinic_a):
        feed = CalendarFeed.objects.get()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 43  # 256 bits

    anonymous = signed_in_client(make_member(clinic_a, Role.READ_ONLY))
    anonymous.logout()
    body = anonymous.get(link)
    assert body.status_code == 200 and body["Content-Type"].startswith("text/calendar")
    [event] = icalendar.Calendar.from_ical(body.content).walk("VEVENT")
    assert event.decoded("dtstart") == appointment.start
    assert str(event["summary"]) == "Massage · M. A. B."
    text = body.content.decode()
    assert "Maria" not in text and "m@example.test" not in text
    with clinic_context(clinic_a):  # P17: once restricted, not even the initials
        ClientRecord.objects.filter(pk=client.pk).update(restricted=True)
    [event] = icalendar.Calendar.from_ical(anonymous.get(link).content).walk("VEVENT")
    assert str(event["summary"]) == "Massage"

    # Not someone else's staff row: 404.
    other = browser.post(reverse("notifications:my-feed-issue", args=[setup.other_staff.pk]))
    assert other.status_code == 404

    stopped = browser.post(
        reverse("notifications:my-feed-issue", args=[setup.staff.pk]), {"action": "revoke"}
    )
    assert stopped.status_code == 200
    assert anonymous.get(link).status_code == 404
    assert anonymous.get("/feeds/not-a-real-token-at-all-123456.ics").status_code == 404


def test_a_new_link_stops_the_old_one(clinic_a, clock, member_client):
    setup = schedule(clinic_a)
    _, owner = member_client(clinic_a, Role.OWNER)
    url = reverse(
        "notifications:feed-issue",
        kwargs={"clinic_slug": clinic_a.slug, "staff_id": setup.staff.pk},
    )
    first = _link(owner.post(url))
    second = _link(owner.post(url))
    assert first != second
    assert owner.get(first).status_code == 404
    assert owner.get(second).status_code == 200


def test_a_member_who_leaves_the_clinic_loses_their_calendar_link(clinic_a, clock):
    from bookwell.tenancy.models import Membership
    from bookwell.tenancy.services import membership_remove

    setup = schedule(clinic_a)
    user = make_member(clinic_a, Role.PRACTITIONER)
    owner = make_member(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        StaffMember.objects.filter(pk=setup.staff.pk).update(user=user)
    browser = signed_in_client(user)
    link = _link(browser.post(reverse("notifications:my-feed-issue", args=[setup.staff.pk])))
    outsider = signed_in_client(make_member(clinic_a, Role.READ_ONLY))
    outsider.logout()
    assert outsider.get(link).status_code == 200

    with clinic_context(clinic_a):
        membership_remove(
            actor=Membership.objects.get(user=owner),
            membership=Membership.objects.get(user=user),
        )
        assert StaffMember.objects.get(pk=setup.staff.pk).user_id is None
    assert outsider.get(link).status_code == 404  # at once
    again = browser.post(reverse("notifications:my-feed-issue", args=[setup.staff.pk]))
    assert again.status_code == 404  # and no new one


def test_a_deactivated_account_or_removed_membership_stops_the_feed_even_if_still_linked(
    clinic_a, clock
):
    from bookwell.tenancy.models import Membership

    setup = schedule(clinic_a)
    user = make_member(clinic_a, Role.PRACTITIONER)
    with clinic_context(clinic_a):
        StaffMember.objects.filter(pk=setup.staff.pk).update(user=user)
    link = _link(
        signed_in_client(user).post(reverse("notifications:my-feed-issue", args=[setup.staff.pk]))
    )
    reader = signed_in_client(make_member(clinic_a, Role.READ_ONLY))
    reader.logout()
    assert reader.get(link).status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert reader.get(link).status_code == 404  # a deactivated account
    type(user).objects.filter(pk=user.pk).update(is_active=True)
    assert reader.get(link).status_code == 200
    with clinic_context(clinic_a):
        Membership.objects.filter(user=user).delete()  # removed below the service layer
    assert reader.get(link).status_code == 404


def test_linking_the_staff_row_to_someone_else_stops_the_old_link(clinic_a, clock):
    setup = schedule(clinic_a)
    user = make_member(clinic_a, Role.PRACTITIONER)
    manager = signed_in_client(make_member(clinic_a, Role.OWNER))
    with clinic_context(clinic_a):
        StaffMember.objects.filter(pk=setup.staff.pk).update(user=user)
    link = _link(
        signed_in_client(user).post(reverse("notifications:my-feed-issue", args=[setup.staff.pk]))
    )
    reader = signed_in_client(make_member(clinic_a, Role.READ_ONLY))
    reader.logout()
    assert reader.get(link).status_code == 200

    edit = reverse(
        "scheduling:staff-edit", kwargs={"clinic_slug": clinic_a.slug, "object_id": setup.staff.pk}
    )
    saved = manager.post(edit, {"display_name": "Dr. One", "bookable": "on", "user": ""})
    assert saved.status_code == 302
    assert reader.get(link).status_code == 404  # unlinked: the link they held stops
    with clinic_context(clinic_a):
        assert not CalendarFeed.objects.filter(revoked_at__isnull=True).exists()


def test_a_link_handed_out_for_an_unlinked_row_stops_when_the_row_gets_a_person(clinic_a, clock):
    setup = schedule(clinic_a)
    newcomer = make_member(clinic_a, Role.PRACTITIONER)
    manager = signed_in_client(make_member(clinic_a, Role.OWNER))
    issue = reverse(
        "notifications:feed-issue",
        kwargs={"clinic_slug": clinic_a.slug, "staff_id": setup.staff.pk},
    )
    link = _link(manager.post(issue))
    assert manager.get(link).status_code == 200

    edit = reverse(
        "scheduling:staff-edit", kwargs={"clinic_slug": clinic_a.slug, "object_id": setup.staff.pk}
    )
    saved = manager.post(edit, {"display_name": "Dr. One", "bookable": "on", "user": newcomer.pk})
    assert saved.status_code == 302
    assert manager.get(link).status_code == 404  # the row is someone's now: new link needed
