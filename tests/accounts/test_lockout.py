"""P3: sign-in throttling locks out guessing without letting an attacker lock out the user."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.http import HttpResponse
from django.test import Client

from bookwell.accounts.models import SignInAttempt, SignInOutcome, User
from bookwell.tenancy.permissions import Role
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

SIGNIN = "/signin/"
START = datetime(2031, 3, 4, 9, 0, 7, tzinfo=UTC)
HOME_NETWORK = "198.51.100.23"
OTHER_NETWORK = "203.0.113.9"
WRONG = "not the password at all"
LOCKED_TEXT = "Too many attempts"


@pytest.fixture
def user(clinic_a) -> User:
    return make_member(clinic_a, Role.PRACTITIONER, email="pat@example.test")


def _attempt(email: str, password: str, ip: str = HOME_NETWORK) -> HttpResponse:
    return Client().post(SIGNIN, {"email": email, "password": password}, REMOTE_ADDR=ip)


def _fail(email: str, times: int, ip: str = HOME_NETWORK) -> list[HttpResponse]:
    return [_attempt(email, WRONG, ip) for _ in range(times)]


def _form_error(response: HttpResponse) -> str:
    return " ".join(response.context["form"].non_field_errors())


def _outcomes() -> list[str]:
    return list(SignInAttempt.objects.order_by("pk").values_list("outcome", flat=True))


# --- The basic lock ---------------------------------------------------------------------------


def test_the_account_locks_on_one_network_after_too_many_failures(clock, user):
    # Given one fewer failures than the limit, the account is merely "wrong password"
    limit = settings.SIGNIN_MAX_FAILURES
    early = _fail(user.email, limit - 1)
    assert [r.status_code for r in early] == [400] * (limit - 1)
    assert "not correct" in _form_error(early[-1])

    # When the limit-th failure arrives
    last = _attempt(user.email, WRONG)

    # Then the answer is 429 with a message that says what to do
    assert last.status_code == 429
    message = _form_error(last)
    assert LOCKED_TEXT in message
    assert "try again in" in message
    assert "reset your password" in message
    # And even the right password is refused while locked, and nobody is signed in
    right = _attempt(user.email, PASSWORD)
    assert right.status_code == 429
    assert LOCKED_TEXT in _form_error(right)
    assert "_auth_user_id" not in right.wsgi_request.session


def test_attempts_are_recorded_with_their_outcome_and_a_masked_network_only(clock, user):
    # Given failures up to the lock, then one more try while locked, from one address
    _fail(user.email, settings.SIGNIN_MAX_FAILURES, ip=OTHER_NETWORK)
    _attempt(user.email, PASSWORD, ip=OTHER_NETWORK)

    # Then each attempt is a row with its outcome
    assert _outcomes() == [SignInOutcome.FAILURE] * settings.SIGNIN_MAX_FAILURES + [
        SignInOutcome.LOCKED
    ]
    rows = list(SignInAttempt.objects.values())
    # And the network is the /24 prefix, never the address
    assert {row["network"] for row in rows} == {"203.0.113.0/24"}
    # And no column holds the raw address or the email, not even its local part
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert OTHER_NETWORK not in stored
    assert user.email not in stored
    assert "pat@" not in stored
    assert all(row["account_key"] != user.email for row in rows)


def test_an_ipv6_network_is_stored_as_its_48_prefix(clock, user):
    # Given a failed attempt from an IPv6 address
    _attempt(user.email, WRONG, ip="2001:db8:1234:5678::42")

    # Then only the /48 is stored
    attempt = SignInAttempt.objects.get()
    assert attempt.network == "2001:db8:1234::/48"
    assert attempt.outcome == SignInOutcome.FAILURE


# --- How a lock ends --------------------------------------------------------------------------


def test_the_lock_ends_when_the_failures_leave_the_window(clock, user):
    # Given a locked account
    _fail(user.email, settings.SIGNIN_MAX_FAILURES)
    assert _attempt(user.email, PASSWORD).status_code == 429

    # When the window has passed since the failures
    clock.shift(settings.SIGNIN_WINDOW + 1)

    # Then the right password signs in
    response = _attempt(user.email, PASSWORD)
    assert response.status_code == 302
    assert response.wsgi_request.session["_auth_user_id"] == str(user.pk)


def test_attempts_refused_while_locked_do_not_extend_the_lock(clock, user):
    # Given a locked account that keeps being tried, as often as the limit, with wrong and right
    # passwords, late in the window
    limit = settings.SIGNIN_MAX_FAILURES
    _fail(user.email, limit)
    clock.shift(settings.SIGNIN_WINDOW - 60)
    assert [r.status_code for r in _fail(user.email, limit - 1)] == [429] * (limit - 1)
    assert _attempt(user.email, PASSWORD).status_code == 429

    # When the window has passed since the original failures (not since the refused tries)
    clock.shift(61)

    # Then the lock is over
    assert _attempt(user.email, PASSWORD).status_code == 302
    assert _outcomes().count(SignInOutcome.LOCKED) == limit
    assert _outcomes().count(SignInOutcome.FAILURE) == limit


def test_a_completed_password_reset_lifts_the_lock(clock, user):
    # Given an account locked on the user's own network
    _fail(user.email, settings.SIGNIN_MAX_FAILURES)
    assert _attempt(user.email, PASSWORD).status_code == 429
    clock.shift(60)

    # When the user resets their password by email
    client = Client(REMOTE_ADDR=HOME_NETWORK)
    client.post("/password/reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    confirm = client.get(link.group(1))
    new_password = "a brand new long passphrase"
    done = client.post(
        confirm["Location"], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done.status_code == 302
    clock.shift(60)

    # Then they can sign in with the new password at once, from the same network
    assert _attempt(user.email, new_password).status_code == 302
    assert SignInOutcome.RESET in _outcomes()


# --- Whose sign-in a lock affects -------------------------------------------------------------


def test_a_lock_on_one_network_does_not_keep_the_user_out_from_another(clock, user):
    # Given an account locked by failures from one network (any address in its /24)
    _fail(user.email, settings.SIGNIN_MAX_FAILURES, ip=OTHER_NETWORK)
    assert _attempt(user.email, PASSWORD, ip=OTHER_NETWORK).status_code == 429
    assert _attempt(user.email, PASSWORD, ip="203.0.113.200").status_code == 429

    # When the user signs in from their own network
    response = _attempt(user.email, PASSWORD, ip=HOME_NETWORK)

    # Then they get in
    assert response.status_code == 302
    assert response.wsgi_request.session["_auth_user_id"] == str(user.pk)


def test_one_network_spraying_many_accounts_is_throttled(clock, settings, clinic_a):
    # Given a lower per-network limit, and one failure each on several accounts from one network
    settings.SIGNIN_MAX_FAILURES_PER_NETWORK = 3
    victims = [make_member(clinic_a, Role.PRACTITIONER) for _ in range(4)]
    for victim in victims[:3]:
        assert _attempt(victim.email, WRONG, ip=OTHER_NETWORK).status_code in {400, 429}

    # When that network tries another account, even with its right password
    response = _attempt(victims[3].email, PASSWORD, ip=OTHER_NETWORK)

    # Then it is refused, but the same account from elsewhere is not
    assert response.status_code == 429
    assert LOCKED_TEXT in _form_error(response)
    assert _attempt(victims[3].email, PASSWORD, ip=HOME_NETWORK).status_code == 302


def test_failures_spread_over_networks_lock_the_account_from_new_networks(clock, settings, user):
    # Given a lower per-account limit and failures spread thinly over several networks
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 4
    for ip in ("192.0.2.1", "192.0.2.1", "198.18.0.1", "198.18.0.1"):
        _attempt(user.email, WRONG, ip=ip)

    # When anyone tries the account from a network it has never signed in from
    response = _attempt(user.email, PASSWORD, ip=OTHER_NETWORK)

    # Then it is refused although no single network reached its own limit
    assert response.status_code == 429


def test_a_network_the_user_recently_signed_in_from_is_exempt_from_the_account_limit(
    clock, settings, user
):
    # Given a user who signed in from home a while ago
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 4
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302
    clock.shift(timedelta(days=2))
    # And an attacker then spreads failures over other networks until the account limit
    for ip in ("192.0.2.1", "192.0.2.1", "198.18.0.1", "198.18.0.1"):
        _attempt(user.email, WRONG, ip=ip)
    assert _attempt(user.email, PASSWORD, ip=OTHER_NETWORK).status_code == 429

    # When the user signs in from home
    response = _attempt(user.email, PASSWORD, ip=HOME_NETWORK)

    # Then home is trusted and they get in
    assert response.status_code == 302


def test_trust_in_a_network_lapses_after_the_trusted_period(clock, settings, user):
    # Given a user whose last sign-in from home is older than the trusted period
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 4
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302
    clock.shift(timedelta(days=settings.SIGNIN_TRUSTED_NETWORK_DAYS, minutes=1))
    for ip in ("192.0.2.1", "192.0.2.1", "198.18.0.1", "198.18.0.1"):
        _attempt(user.email, WRONG, ip=ip)

    # When they sign in from home
    response = _attempt(user.email, PASSWORD, ip=HOME_NETWORK)

    # Then the account-wide limit applies to home too
    assert response.status_code == 429


# --- No account enumeration -------------------------------------------------------------------


def test_an_unknown_email_gets_the_same_answers_as_a_wrong_password(clock, user):
    # Given an account that exists and an email that does not
    unknown = "nobody@example.test"
    limit = settings.SIGNIN_MAX_FAILURES

    # When both are guessed up to the limit, from one network each
    known_answers = _fail(user.email, limit, ip=HOME_NETWORK)
    unknown_answers = _fail(unknown, limit, ip=OTHER_NETWORK)

    # Then every answer has the same status and the same message
    assert [r.status_code for r in known_answers] == [r.status_code for r in unknown_answers]
    assert [_form_error(r) for r in known_answers] == [_form_error(r) for r in unknown_answers]
    assert unknown_answers[-1].status_code == 429
    # And the unknown email is throttled too, with nothing tying its attempts to a user
    assert _attempt(unknown, WRONG, ip=OTHER_NETWORK).status_code == 429
    unknown_rows = SignInAttempt.objects.filter(network="203.0.113.0/24")
    assert unknown_rows.count() == limit + 1
    assert not unknown_rows.filter(user__isnull=False).exists()
    assert not User.objects.filter(email=unknown).exists()


def test_the_users_success_elsewhere_does_not_give_an_attacker_fresh_guesses(clock, user):
    # Given an attacker one failure short of the lock on their network
    limit = settings.SIGNIN_MAX_FAILURES
    _fail(user.email, limit - 1, ip=OTHER_NETWORK)
    # When the real user signs in from home meanwhile
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302
    # Then the attacker's next failure still locks their network
    assert _attempt(user.email, WRONG, ip=OTHER_NETWORK).status_code == 429
    # And the user at home is not locked
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302


def test_a_success_on_the_same_network_clears_that_networks_count(clock, user):
    limit = settings.SIGNIN_MAX_FAILURES
    _fail(user.email, limit - 1)
    assert _attempt(user.email, PASSWORD).status_code == 302
    assert [r.status_code for r in _fail(user.email, limit - 1)] == [400] * (limit - 1)


# --- An attacker cannot keep the user out (review findings) -----------------------------------


def test_spraying_from_the_users_home_network_does_not_lock_the_user_out(clock, user, settings):
    settings.SIGNIN_MAX_FAILURES_PER_NETWORK = 10
    # Given the user signed in from home before
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302
    # When someone on the same network (an office NAT) sprays other accounts past the limit
    for i in range(12):
        _attempt(f"victim{i}@example.test", WRONG, ip="198.51.100.99")
    assert _attempt("another@example.test", WRONG, ip=HOME_NETWORK).status_code == 429
    # Then the user, at home, still gets in
    assert _attempt(user.email, PASSWORD, ip=HOME_NETWORK).status_code == 302


def test_a_password_reset_signs_the_user_in_whatever_lock_an_attacker_holds(clock, user):
    # Given an attacker keeping the account locked from many networks, and the user on a new one
    for n in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        _attempt(user.email, WRONG, ip=f"203.0.{n}.1")
    traveller = "192.0.2.50"
    assert _attempt(user.email, PASSWORD, ip=traveller).status_code == 429
    # When the user completes a password reset from there
    client = Client(REMOTE_ADDR=traveller)
    client.post("/password/reset/", {"email": user.email})
    found = re.search(r"https?://[^/\s]+(/password/reset/\S+/)", mail.outbox[-1].body)
    assert found is not None
    link = found[1]
    opened = client.get(link)
    new = "a brand new passphrase"
    done = client.post(opened["Location"], {"new_password1": new, "new_password2": new})
    # Then they are signed in, and the attacker's next failures do not lock them out again
    assert done.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)
    for n in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        _attempt(user.email, WRONG, ip=f"203.0.{n}.2")
    assert _attempt(user.email, new, ip=traveller).status_code == 302


def test_behind_the_proxy_each_client_is_its_own_network(clock, user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    via_proxy = {"REMOTE_ADDR": "127.0.0.1"}

    def attempt(forwarded: str) -> HttpResponse:
        return Client().post(
            SIGNIN,
            {"email": user.email, "password": WRONG},
            HTTP_X_FORWARDED_FOR=forwarded,
            **via_proxy,
        )

    # An attacker forging an address to the left is still seen by the proxy's entry.
    for _ in range(settings.SIGNIN_MAX_FAILURES):
        attempt("10.9.9.9, 203.0.113.7")
    assert attempt("203.0.113.8").status_code == 429  # same /24 as the attacker
    ok = Client().post(
        SIGNIN,
        {"email": user.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.4",
        **via_proxy,
    )
    assert ok.status_code == 302
    networks = set(SignInAttempt.objects.values_list("network", flat=True))
    assert networks == {"203.0.113.0/24", "198.51.100.0/24"}


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(clock, user, settings):
    settings.TRUSTED_PROXIES = []
    Client().post(
        SIGNIN,
        {"email": user.email, "password": WRONG},
        HTTP_X_FORWARDED_FOR="192.0.2.1",
        REMOTE_ADDR="198.51.100.23",
    )
    assert list(SignInAttempt.objects.values_list("network", flat=True)) == ["198.51.100.0/24"]
