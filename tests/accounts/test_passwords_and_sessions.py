"""P3: how passwords are stored and checked, and how sessions start, idle out and end."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookwell.accounts.models import User
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.conftest import signed_in_client
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"
START = datetime(2031, 3, 4, 9, 0, 7, tzinfo=UTC)


def _home(clinic: Clinic) -> str:
    return reverse("tenancy:home", kwargs={"clinic_slug": clinic.slug})


def _signin_url(next_url: str) -> str:
    return f"{reverse('accounts:signin')}?next={next_url}"


def _session_cookie(client: Client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie is not None and cookie.value else None


def _sign_in(client: Client, email: str, password: str = PASSWORD) -> None:
    response = client.post(SIGNIN, {"email": email, "password": password})
    assert response.status_code == 302, response.status_code


def _signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "full_name": "Ada Example",
        "email": "ada@example.test",
        "password1": "a long and unusual passphrase",
        "password2": "a long and unusual passphrase",
        "clinic_name": "Ada Physio",
        "time_zone": "Europe/Berlin",
        "country": "DE",
    }
    data.update(overrides)
    return data


# --- Password storage and strength ------------------------------------------------------------


def test_signup_stores_the_password_as_an_argon2id_hash():
    # Given a new clinic owner signing up
    data = _signup_data()

    # When they submit the sign-up page
    response = Client().post("/signup/", data)

    # Then the account exists and its password is stored only as an Argon2id hash
    assert response.status_code == 302
    user = User.objects.get(email="ada@example.test")
    assert user.password.startswith("argon2$argon2id$")
    assert data["password1"] not in user.password
    assert user.check_password(data["password1"])


@pytest.mark.parametrize(
    ("password", "expected_error"),
    [
        ("Short1pass!", "too short"),  # 11 characters: one under the minimum of 12
        ("password1234", "too common"),
    ],
)
def test_signup_refuses_a_weak_password_with_a_form_error_and_writes_nothing(
    password, expected_error
):
    # Given a sign-up whose password is too short or too common
    data = _signup_data(password1=password, password2=password)

    # When it is submitted
    response = Client().post("/signup/", data)

    # Then the page answers 400 with the reason on the password field, and nothing is written
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors.get("password1", []))
    assert expected_error in errors
    assert not User.objects.filter(email="ada@example.test").exists()
    assert not Clinic.objects.exists()


def test_a_twelve_character_password_is_long_enough():
    # Given a password of exactly the minimum length, not on the common list
    password = "Qx7-mVr2@kLp"
    assert len(password) == 12

    # When it is used to sign up
    response = Client().post("/signup/", _signup_data(password1=password, password2=password))

    # Then it is accepted
    assert response.status_code == 302
    assert User.objects.filter(email="ada@example.test").exists()


# --- Starting a session -------------------------------------------------------------------------


def test_signing_in_gives_a_new_session_key(clinic_a):
    # Given a visitor whose browser already holds a session (perhaps one an attacker planted)
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    session = client.session
    session["planted"] = "by someone else"
    session.save()
    before = _session_cookie(client)
    assert before is not None

    # When they sign in through the sign-in page
    _sign_in(client, user.email)

    # Then the session key is new, and the old key no longer exists
    after = _session_cookie(client)
    assert after is not None
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.get(_home(clinic_a)).status_code == 200


def test_the_idle_timeout_is_the_session_lifetime_and_is_set_at_sign_in(clock, clinic_a):
    # Given the configured idle timeout
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT
    user = make_member(clinic_a, Role.OWNER)
    client = Client()

    # When the user signs in
    _sign_in(client, user.email)

    # Then the session expires one idle timeout from now, in the database and in the cookie
    key = _session_cookie(client)
    session = Session.objects.get(session_key=key)
    assert session.expire_date == START + timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    assert int(client.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) == (
        settings.SESSION_IDLE_TIMEOUT
    )


def test_activity_within_the_idle_timeout_keeps_the_session_alive(clock, clinic_a):
    # Given a signed-in user
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)
    idle = settings.SESSION_IDLE_TIMEOUT

    # When they use the app a little before each idle timeout runs out, twice
    clock.shift(idle - 60)
    first = client.get(_home(clinic_a))
    clock.shift(idle - 60)
    second = client.get(_home(clinic_a))

    # Then they stay signed in, though more than one idle timeout has passed since sign-in
    assert first.status_code == 200
    assert second.status_code == 200


def test_activity_moves_the_idle_expiry_on_at_most_once_a_minute(clock, clinic_a):
    # Given a signed-in user
    from django.contrib.sessions.models import Session

    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)

    def expiry():
        return Session.objects.get(session_key=client.session.session_key).expire_date

    # When they click twice within a minute, then again two minutes later
    clock.shift(120)
    client.get(_home(clinic_a))
    after_first = expiry()
    clock.shift(30)
    client.get(_home(clinic_a))
    after_second = expiry()
    clock.shift(120)
    client.get(_home(clinic_a))

    # Then the first and third move the expiry on; the second writes nothing
    idle = dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    assert after_first == timezone.now() - dt.timedelta(seconds=150) + idle
    assert after_second == after_first
    assert expiry() == timezone.now() + idle


def test_an_idle_session_ends_and_staff_pages_redirect_to_sign_in(clock, clinic_a):
    # Given a signed-in user
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)
    assert client.get(_home(clinic_a)).status_code == 200

    # When they come back just after the idle timeout
    clock.shift(settings.SESSION_IDLE_TIMEOUT + 1)
    response = client.get(_home(clinic_a))

    # Then the staff page sends them to sign in
    assert response.status_code == 302
    assert response["Location"] == _signin_url(_home(clinic_a))


def test_an_active_session_still_ends_at_the_absolute_timeout(clock, clinic_a):
    # Given a user who signed in and keeps using the app well within the idle timeout
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)
    step = settings.SESSION_IDLE_TIMEOUT // 2
    elapsed = 0
    while elapsed + step <= settings.SESSION_ABSOLUTE_TIMEOUT:
        clock.shift(step)
        elapsed += step
        assert client.get(_home(clinic_a)).status_code == 200, elapsed

    # When the absolute lifetime passes, though they were never idle
    clock.shift(settings.SESSION_ABSOLUTE_TIMEOUT - elapsed + 1)
    response = client.get(_home(clinic_a))

    # Then they are signed out and sent to sign in, where they are told why
    assert response.status_code == 302
    assert response["Location"] == _signin_url(_home(clinic_a))
    signin_page = client.get(response["Location"])
    assert signin_page.status_code == 200
    assert "Your session ended. Please sign in again." in signin_page.text
    # And they stay signed out
    assert client.get(_home(clinic_a)).status_code == 302


# --- Ending sessions ----------------------------------------------------------------------------


def test_signing_out_ends_the_session(clinic_a):
    # Given a signed-in user
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)
    key = _session_cookie(client)

    # When they sign out
    response = client.post("/signout/")

    # Then the session is gone from the server and staff pages ask them to sign in
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:signin")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(_home(clinic_a)).status_code == 302


def test_signing_out_everywhere_ends_the_users_other_sessions(clinic_a):
    # Given one user signed in on a laptop and on a phone, and a colleague signed in too
    user = make_member(clinic_a, Role.OWNER)
    colleague = make_member(clinic_a, Role.ADMIN)
    laptop, phone = Client(), Client()
    _sign_in(laptop, user.email)
    _sign_in(phone, user.email)
    other = signed_in_client(colleague)

    # When they choose "sign out everywhere" on the laptop
    response = laptop.post("/signout/everywhere/")

    # Then both of their sessions end, and the colleague's does not
    assert response.status_code == 302
    assert laptop.get(_home(clinic_a)).status_code == 302
    assert phone.get(_home(clinic_a)).status_code == 302
    assert other.get(_home(clinic_a)).status_code == 200
    # And signing in again works
    _sign_in(phone, user.email)
    assert phone.get(_home(clinic_a)).status_code == 200


def test_changing_the_password_keeps_this_session_and_ends_the_others(clinic_a):
    # Given a user signed in on two devices
    user = make_member(clinic_a, Role.OWNER)
    here, elsewhere = Client(), Client()
    _sign_in(here, user.email)
    _sign_in(elsewhere, user.email)
    new_password = "a different long passphrase"

    # When they change their password on one of them
    response = here.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )

    # Then this session continues, the other one ends, and the new password is the one that works
    assert response.status_code == 302
    assert here.get(_home(clinic_a)).status_code == 200
    assert elsewhere.get(_home(clinic_a)).status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert not user.check_password(PASSWORD)


def test_a_password_change_with_a_weak_new_password_is_refused_and_changes_nothing(clinic_a):
    # Given a signed-in user
    user = make_member(clinic_a, Role.OWNER)
    client = Client()
    _sign_in(client, user.email)
    before = User.objects.get(pk=user.pk).password

    # When they try a new password that is too short
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )

    # Then the form refuses it and the stored password is unchanged
    assert response.status_code == 400
    assert "new_password2" in response.context["form"].errors
    assert User.objects.get(pk=user.pk).password == before
