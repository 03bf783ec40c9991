"""P3: the authenticator-app second factor, recovery codes, and clinics that require them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pyotp
import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from bookwell.accounts import services
from bookwell.accounts.models import RecoveryCode, SignInAttempt, SignInOutcome, User
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.conftest import signed_in_client
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"
VERIFY = "/signin/verify/"
ENROL_KEY = "bookwell_mfa_enrol_secret"
# Mid-way through a 30-second TOTP step, so codes do not change under a test by accident.
START = datetime(2031, 3, 4, 9, 0, 15, tzinfo=UTC)


def _home(clinic: Clinic) -> str:
    return reverse("tenancy:home", kwargs={"clinic_slug": clinic.slug})


def _enrolled(user: User) -> tuple[pyotp.TOTP, list[str]]:
    """Turns on MFA for the user as enrolment would, then lets the enrolment code go stale."""
    secret = services.totp_new_secret()
    codes = services.mfa_enable(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    assert codes is not None
    return pyotp.TOTP(secret), codes


def _password_step(client: Client, user: User) -> HttpResponse:
    return client.post(SIGNIN, {"email": user.email, "password": PASSWORD})


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


# --- Enrolment --------------------------------------------------------------------------------


def test_enrolling_turns_on_mfa_and_shows_the_recovery_codes_once(clock, clinic_a):
    # Given a signed-in user who opens the authenticator setup page
    user = make_member(clinic_a, Role.OWNER)
    client = signed_in_client(user)
    page = client.get("/account/mfa/")
    assert page.status_code == 200
    secret = client.session[ENROL_KEY]
    assert secret in page.text
    assert not User.objects.get(pk=user.pk).mfa_enabled

    # When they confirm with a code from their app
    response = client.post(
        "/account/mfa/", {"code": pyotp.TOTP(secret).now(), "password": PASSWORD}
    )

    # Then MFA is on with that secret, and the recovery codes are shown
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == services.RECOVERY_CODE_COUNT
    assert all(code in response.text for code in codes)
    user.refresh_from_db()
    assert user.mfa_enabled
    assert user.totp_secret == secret
    assert ENROL_KEY not in client.session
    # And the codes are stored only as hashes
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == services.RECOVERY_CODE_COUNT
    assert not stored & set(codes)
    # And they are never shown again; the session continues
    again = client.get("/account/mfa/")
    assert again.status_code == 200
    assert not any(code in again.text for code in codes)
    assert f"{services.RECOVERY_CODE_COUNT} recovery codes left" in again.text
    assert _signed_in_as(client) == str(user.pk)


def test_a_wrong_enrolment_code_leaves_mfa_off(clock, clinic_a):
    # Given a user on the setup page
    user = make_member(clinic_a, Role.OWNER)
    client = signed_in_client(user)
    client.get("/account/mfa/")
    secret = client.session[ENROL_KEY]
    wrong = pyotp.TOTP(pyotp.random_base32()).now()
    assert wrong != pyotp.TOTP(secret).now()

    # When they confirm with a code that is not from the secret
    response = client.post("/account/mfa/", {"code": wrong, "password": PASSWORD})

    # Then MFA stays off and the same secret is offered again
    assert response.status_code == 400
    assert not User.objects.get(pk=user.pk).mfa_enabled
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert client.session[ENROL_KEY] == secret


# --- Signing in with a second factor ----------------------------------------------------------


def test_sign_in_with_mfa_needs_the_second_step(clock, clinic_a):
    # Given a user with MFA on
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    client = Client()

    # When they give the right password
    first = _password_step(client, user)

    # Then they are sent to the second step and are not signed in yet
    assert first.status_code == 302
    assert first["Location"] == VERIFY
    assert _signed_in_as(client) is None
    assert client.get(_home(clinic_a)).status_code == 302
    assert client.get(VERIFY).status_code == 200

    # When they give a fresh code from their app
    second = client.post(VERIFY, {"code": totp.now()})

    # Then they are signed in
    assert second.status_code == 302
    assert _signed_in_as(client) == str(user.pk)
    assert client.get(_home(clinic_a)).status_code == 200
    assert SignInAttempt.objects.filter(user=user, outcome=SignInOutcome.SUCCESS).count() == 1


def test_each_sign_in_step_gives_a_new_session_key(clock, clinic_a):
    # Given a user with MFA on, whose browser already holds a session
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    client = Client()
    session = client.session
    session["planted"] = "by someone else"
    session.save()
    keys = [_session_key(client)]

    # When they pass the password step, then the code step
    _password_step(client, user)
    keys.append(_session_key(client))
    client.post(VERIFY, {"code": totp.now()})
    keys.append(_session_key(client))

    # Then every step rotated the session key, and the earlier keys are gone
    assert len(set(keys)) == 3
    assert not Session.objects.filter(session_key__in=keys[:2]).exists()
    assert _signed_in_as(client) == str(user.pk)


def test_the_second_step_cannot_be_reached_without_the_password(clock, clinic_a):
    # Given a user with MFA on, and someone who knows a current code but not the password
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    client = Client()

    # When they go straight to the second step
    response = client.post(VERIFY, {"code": totp.now()})

    # Then they are sent to sign in, and nothing is signed in
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:signin")
    assert _signed_in_as(client) is None


def test_the_pending_second_step_expires(clock, clinic_a):
    # Given a user who passed the password step and then walked away
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    client = Client()
    _password_step(client, user)

    # When they enter a code after the pending step has expired
    clock.shift(settings.MFA_PENDING_TTL + 1)
    response = client.post(VERIFY, {"code": totp.now()})

    # Then they must start again
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:signin")
    assert _signed_in_as(client) is None


def test_a_totp_code_works_only_once(clock, clinic_a):
    # Given a user with MFA on who signs in with the current code
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    code = totp.now()
    first = Client()
    _password_step(first, user)
    assert first.post(VERIFY, {"code": code}).status_code == 302

    # When someone replays the same code in another sign-in, within its time window
    replay = Client()
    _password_step(replay, user)
    response = replay.post(VERIFY, {"code": code})

    # Then it is refused
    assert response.status_code == 400
    assert "not valid" in " ".join(response.context["form"].errors["code"])
    assert _signed_in_as(replay) is None


def test_an_older_code_is_refused_after_a_newer_one_was_used(clock, clinic_a):
    # Given a user with MFA on, and two codes both inside the accepted window
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    now = time.time()
    newer, older = totp.at(now), totp.at(now - 30)
    assert newer != older

    # When the newer code is used, then the older one
    first = Client()
    _password_step(first, user)
    assert first.post(VERIFY, {"code": newer}).status_code == 302
    second = Client()
    _password_step(second, user)
    response = second.post(VERIFY, {"code": older})

    # Then the older one is refused
    assert response.status_code == 400
    assert _signed_in_as(second) is None


def test_the_previous_code_is_accepted_when_nothing_newer_was_used(clock, clinic_a):
    # Given a user with MFA on whose phone clock is a little behind
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    client = Client()
    _password_step(client, user)

    # When they enter the code of the previous time step
    response = client.post(VERIFY, {"code": totp.at(time.time() - 30)})

    # Then it is accepted (the window tolerates one step of drift)
    assert response.status_code == 302
    assert _signed_in_as(client) == str(user.pk)


def test_a_recovery_code_works_only_once(clock, clinic_a):
    # Given a user with MFA on and their recovery codes
    user = make_member(clinic_a, Role.OWNER)
    _, codes = _enrolled(user)
    clock.shift(60)

    # When they sign in with a recovery code (typed in capitals and with spaces)
    first = Client()
    _password_step(first, user)
    response = first.post(VERIFY, {"code": f" {codes[0].upper()} "})

    # Then it works and one code fewer is left
    assert response.status_code == 302
    assert _signed_in_as(first) == str(user.pk)
    assert services.recovery_codes_left(user=user) == services.RECOVERY_CODE_COUNT - 1

    # And it does not work a second time
    second = Client()
    _password_step(second, user)
    again = second.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 400
    assert _signed_in_as(second) is None
    # While another unused code still does
    assert second.post(VERIFY, {"code": codes[1]}).status_code == 302


def test_wrong_second_factor_codes_count_toward_the_lockout(clock, clinic_a):
    # Given a user with MFA on, and someone who knows the password but not the codes
    user = make_member(clinic_a, Role.OWNER)
    totp, _ = _enrolled(user)
    clock.shift(60)
    client = Client()
    _password_step(client, user)
    limit = settings.SIGNIN_MAX_FAILURES
    window = {totp.at(time.time() + drift) for drift in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in window)

    # When they guess codes up to the limit
    answers = [client.post(VERIFY, {"code": wrong}).status_code for _ in range(limit)]

    # Then the last guess locks the account on this network
    assert answers == [400] * (limit - 1) + [429]
    assert (
        SignInAttempt.objects.filter(user=user, outcome=SignInOutcome.MFA_FAILURE).count() == limit
    )
    assert _signed_in_as(client) is None
    # And the pending second step is gone: even a right code needs the password again
    assert client.post(VERIFY, {"code": totp.now()})["Location"] == reverse("accounts:signin")
    # And the password step is refused while locked
    locked = _password_step(Client(), user)
    assert locked.status_code == 429
    assert "Too many attempts" in " ".join(locked.context["form"].non_field_errors())


# --- Clinics that require MFA -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_a_clinic_that_requires_mfa_sends_owners_and_admins_without_it_to_set_it_up(
    clinic_a, member_client, role
):
    # Given a clinic that requires MFA of its owners and admins, and such a member without MFA
    clinic_a.require_mfa_for_admins = True
    clinic_a.save(update_fields=["require_mfa_for_admins"])
    _, client = member_client(clinic_a, role)

    # When they open a clinic page
    response = client.get(_home(clinic_a))

    # Then they are sent to the authenticator setup, to come back afterwards
    assert response.status_code == 302
    assert response["Location"] == "/account/mfa/?" + urlencode({"next": _home(clinic_a)})
    assert client.get(response["Location"]).status_code == 200


def test_a_clinic_that_requires_mfa_lets_owners_with_mfa_in(clock, clinic_a, member_client):
    # Given an owner with MFA on, in a clinic that requires it
    clinic_a.require_mfa_for_admins = True
    clinic_a.save(update_fields=["require_mfa_for_admins"])
    user, client = member_client(clinic_a, Role.OWNER)
    _enrolled(user)

    # When they open a clinic page
    response = client.get(_home(clinic_a))

    # Then they get it
    assert response.status_code == 200


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.FRONT_DESK, Role.READ_ONLY])
def test_the_mfa_requirement_does_not_apply_to_other_roles(clinic_a, member_client, role):
    # Given a clinic that requires MFA of its owners and admins, and another member without MFA
    clinic_a.require_mfa_for_admins = True
    clinic_a.save(update_fields=["require_mfa_for_admins"])
    _, client = member_client(clinic_a, role)

    # When they open a clinic page
    response = client.get(_home(clinic_a))

    # Then they get it
    assert response.status_code == 200


def test_without_the_requirement_owners_without_mfa_get_in(clinic_a, member_client):
    # Given a clinic that does not require MFA
    assert not clinic_a.require_mfa_for_admins
    _, client = member_client(clinic_a, Role.OWNER)

    # When an owner without MFA opens a clinic page, then they get it
    assert client.get(_home(clinic_a)).status_code == 200


def test_a_stolen_session_cannot_enrol_its_own_authenticator(clinic_a):
    # Given someone with the user's session but not their password
    user = make_member(clinic_a, Role.OWNER)
    client = signed_in_client(user)
    client.get("/account/mfa/")
    secret = client.session["bookwell_mfa_enrol_secret"]
    # When they try to turn on a second factor with their own app
    response = client.post("/account/mfa/", {"code": pyotp.TOTP(secret).now(), "password": "guess"})
    # Then it is refused and nothing changes
    assert response.status_code == 400
    assert "password was not correct" in response.content.decode()
    user.refresh_from_db()
    assert not user.mfa_enabled
