"""P3: resetting a forgotten password by email, without revealing who has an account."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from bookwell.accounts.models import User
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

RESET = "/password/reset/"
NEW_PASSWORD = "a brand new long passphrase"
START = datetime(2031, 3, 4, 9, 0, 7, tzinfo=UTC)


@pytest.fixture
def user(clinic_a: Clinic) -> User:
    return make_member(clinic_a, Role.PRACTITIONER, email="pat@example.test")


def _emailed_link(message: mail.EmailMessage) -> str:
    """The path of the reset link in an email."""
    found = re.search(r"https?://[^/\s]+(/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def _request_link(client: Client, user: User) -> str:
    client.post(RESET, {"email": user.email})
    assert len(mail.outbox) == 1
    return _emailed_link(mail.outbox[0])


def _set_password(client: Client, link: str, password: str = NEW_PASSWORD) -> HttpResponse:
    """Follows the emailed link and submits the new password."""
    opened = client.get(link)
    if opened.status_code != 302:
        return opened
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


def _sign_in(email: str, password: str) -> HttpResponse:
    return Client().post("/signin/", {"email": email, "password": password})


def test_a_reset_request_for_an_account_sends_one_email_with_a_link(user):
    # Given an existing account
    # When someone asks to reset its password
    response = Client().post(RESET, {"email": "PAT@example.test"})

    # Then one email goes to that account's address, with a link
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-sent")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert _emailed_link(mail.outbox[0]).startswith("/password/reset/")


def test_a_reset_request_for_an_unknown_email_sends_nothing_and_looks_the_same(user):
    # Given the answer for an existing account
    known = Client().post(RESET, {"email": user.email})
    mail.outbox.clear()

    # When someone asks to reset an email that has no account
    unknown = Client().post(RESET, {"email": "nobody@example.test"})

    # Then no email is sent, and the answer is the same
    assert len(mail.outbox) == 0
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"]


def test_the_link_leaves_the_address_bar_before_the_form_is_shown(user):
    # Given a reset link
    client = Client()
    link = _request_link(client, user)
    token = link.rstrip("/").rsplit("/", 1)[1]

    # When it is opened
    opened = client.get(link)

    # Then the token moves into the session and the form is served from a token-free address
    assert opened.status_code == 302
    assert token not in opened["Location"]
    form = client.get(opened["Location"])
    assert form.status_code == 200
    assert token not in form.text


def test_the_new_password_works_and_the_old_one_does_not(user):
    # Given a reset link
    client = Client()
    link = _request_link(client, user)

    # When the user sets a new password with it
    response = _set_password(client, link)

    # Then they are signed in (the link proved the mailbox), and from then on the new
    # password works and the old one does not
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:choose")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert _sign_in(user.email, NEW_PASSWORD).status_code == 302
    assert _sign_in(user.email, PASSWORD).status_code == 400


def test_the_link_works_only_once(user):
    # Given a link that was used to set a password
    client = Client()
    link = _request_link(client, user)
    assert _set_password(client, link).status_code == 302

    # When the same link is used again, in the same browser or another
    again = _set_password(client, link, "yet another long passphrase")
    elsewhere = _set_password(Client(), link, "yet another long passphrase")

    # Then it is refused, and the password is the one set first
    assert again.status_code == 400
    assert "no longer valid" in again.text
    assert elsewhere.status_code == 400
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_link_expires(clock, user):
    # Given a reset link
    client = Client()
    link = _request_link(client, user)

    # When it is used after the reset timeout
    clock.shift(settings.PASSWORD_RESET_TIMEOUT + 1)
    response = _set_password(client, link)

    # Then it is refused and the password is unchanged
    assert response.status_code == 400
    assert "no longer valid" in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_link_still_works_just_before_it_expires(clock, user):
    # Given a reset link
    client = Client()
    link = _request_link(client, user)

    # When it is used just before the reset timeout
    clock.shift(settings.PASSWORD_RESET_TIMEOUT - 60)
    response = _set_password(client, link)

    # Then it works
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_weak_new_password_is_refused_and_the_link_stays_usable(user):
    # Given a reset link
    client = Client()
    link = _request_link(client, user)

    # When the new password is too short
    refused = _set_password(client, link, "short")

    # Then the form says so and nothing changes
    assert refused.status_code == 400
    assert refused.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # And a proper password can still be set with the same link
    assert _set_password(client, link).status_code == 302


def test_a_reset_signs_out_existing_sessions(user, clinic_a):
    # Given the user signed in somewhere (perhaps someone who knew the old password)
    other = Client()
    assert other.post("/signin/", {"email": user.email, "password": PASSWORD}).status_code == 302
    home = reverse("tenancy:home", kwargs={"clinic_slug": clinic_a.slug})
    assert other.get(home).status_code == 200

    # When the password is reset by email
    client = Client()
    assert _set_password(client, _request_link(client, user)).status_code == 302

    # Then that session ends
    assert other.get(home).status_code == 302
