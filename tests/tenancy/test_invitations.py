"""Joining a clinic: invitations, role changes and removal, and self-serve sign-up (P2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from bookwell.accounts.models import User
from bookwell.core.context import clinic_context, platform_scope
from bookwell.tenancy.models import Clinic, Invitation, Membership
from bookwell.tenancy.permissions import Role
from tests.conftest import signed_in_client
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 4, 9, 0, 7, tzinfo=UTC)
NEWCOMER = "new.person@example.test"
NEW_PASSWORD = "a long and unusual passphrase"


@pytest.fixture
def send_invitation(
    django_capture_on_commit_callbacks,
) -> Callable[[Client, Clinic, str, str], HttpResponse]:
    """Posts the team page's invite form; the email goes out when the request commits."""

    def send(client: Client, clinic: Clinic, email: str, role: str) -> HttpResponse:
        url = reverse("tenancy:team-invite", kwargs={"clinic_slug": clinic.slug})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, {"email": email, "role": role})

    return send


@pytest.fixture
def invited(
    clinic_a: Clinic, member_client, send_invitation
) -> Callable[[str, str], tuple[str, Client]]:
    """An owner of clinic A invites someone; returns the link path from the email."""

    def invite(email: str = NEWCOMER, role: str = Role.PRACTITIONER) -> tuple[str, Client]:
        _, owner = member_client(clinic_a, Role.OWNER)
        response = send_invitation(owner, clinic_a, email, role)
        assert response.status_code == 302, response.status_code
        return _link_in(mail.outbox[-1].body), owner

    return invite


def _link_in(body: str) -> str:
    found = re.search(r"https?://[^/\s]+(/invite/[^/\s]+/)", body)
    assert found is not None, body
    return found.group(1)


def _members(clinic: Clinic) -> dict[str, str]:
    with clinic_context(clinic):
        return dict(Membership.objects.values_list("user__email", "role"))


def _invitations(clinic: Clinic) -> list[tuple[object, ...]]:
    with clinic_context(clinic):
        return list(
            Invitation.objects.order_by("pk").values_list(
                "email", "role", "accepted_at", "revoked_at"
            )
        )


def _membership(clinic: Clinic, user: User) -> Membership:
    with clinic_context(clinic):
        return Membership.objects.get(user=user)


def _accept_as_newcomer(client: Client, link: str) -> HttpResponse:
    return client.post(
        link,
        {"full_name": "New Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def _team_url(name: str, clinic: Clinic, membership: Membership) -> str:
    return reverse(name, kwargs={"clinic_slug": clinic.slug, "membership_id": membership.pk})


# --- Sending and accepting --------------------------------------------------------------------


def test_an_owner_invites_someone_by_email(clinic_a, invited):
    # Given an owner of clinic A
    # When they invite a new person as a practitioner
    link, _ = invited(NEWCOMER, Role.PRACTITIONER)

    # Then one email goes to that person with a link, and an open invitation is recorded
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [NEWCOMER]
    assert "Clinic A" in mail.outbox[0].subject
    assert link.startswith("/invite/")
    assert _invitations(clinic_a) == [(NEWCOMER, Role.PRACTITIONER, None, None)]
    # And the raw token from the link is not stored
    token = link.strip("/").rsplit("/", 1)[1]
    with clinic_context(clinic_a):
        assert not Invitation.objects.filter(token_hash=token).exists()


def test_a_new_person_following_the_link_is_offered_an_account_form(invited):
    # Given an invitation for someone without an account
    link, _ = invited()

    # When they open the link
    response = Client().get(link)

    # Then they see the clinic, their role and a form to create their account
    assert response.status_code == 200
    assert "Join Clinic A" in response.text
    assert "Practitioner" in response.text
    assert set(response.context["form"].fields) == {"full_name", "password1", "password2"}


def test_accepting_as_a_new_person_creates_the_account_and_membership(clinic_a, invited):
    # Given an invitation as front desk for someone without an account
    link, _ = invited(NEWCOMER, Role.FRONT_DESK)
    client = Client()

    # When they create their account from the link
    response = _accept_as_newcomer(client, link)

    # Then they have an account with the invited role, are signed in and land in the clinic
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:home", kwargs={"clinic_slug": clinic_a.slug})
    user = User.objects.get(email=NEWCOMER)
    assert user.full_name == "New Person"
    assert user.check_password(NEW_PASSWORD)
    assert _members(clinic_a)[NEWCOMER] == Role.FRONT_DESK
    assert client.get(response["Location"]).status_code == 200
    # And the invitation is marked accepted by them
    with clinic_context(clinic_a):
        invitation = Invitation.objects.get()
    assert invitation.accepted_at is not None
    assert invitation.accepted_by_id == user.pk


def test_a_newcomer_accepting_takes_the_platform_audit_lock_before_the_clinics(clinic_a, invited):
    """The acceptance is recorded in the clinic's chain and the sign-in after it in the
    platform's; a sign-in elsewhere takes them the other way round. Taking the platform's
    first keeps the two from waiting on each other for ever (a deadlock on PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    link, _ = invited(NEWCOMER, Role.FRONT_DESK)
    with CaptureQueriesContext(connection) as seen:
        assert _accept_as_newcomer(Client(), link).status_code == 302
    heads = [q["sql"] for q in seen.captured_queries if "audit_chainhead" in q["sql"]]
    assert heads, "the chain heads were read"
    assert '"chain" = 0' in heads[0]  # the platform's first
    assert any(f'"chain" = {clinic_a.pk}' in sql for sql in heads[1:])


def test_a_weak_password_on_the_invitation_form_creates_nothing(clinic_a, invited):
    # Given an invitation for someone without an account
    link, _ = invited()

    # When they choose a password that is too short
    response = Client().post(
        link, {"full_name": "New Person", "password1": "short", "password2": "short"}
    )

    # Then the form says so, and no account or membership is created
    assert response.status_code == 400
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(email=NEWCOMER).exists()
    assert NEWCOMER not in _members(clinic_a)
    assert _invitations(clinic_a)[0][2] is None  # still open


def test_the_link_works_only_once(clinic_a, invited):
    # Given an invitation that was accepted
    link, _ = invited()
    assert _accept_as_newcomer(Client(), link).status_code == 302
    members_before = _members(clinic_a)

    # When the link is opened or submitted again
    opened = Client().get(link)
    submitted = _accept_as_newcomer(Client(), link)

    # Then it says it was already used, and nothing else is created
    assert opened.status_code == 410
    assert "already been used" in opened.text
    assert submitted.status_code == 410
    assert _members(clinic_a) == members_before
    assert User.objects.filter(email=NEWCOMER).count() == 1


def test_the_link_expires(clock, clinic_a, invited):
    # Given an invitation
    link, _ = invited()

    # When it is opened after its time to live
    clock.shift(settings.INVITATION_TTL + 1)
    opened = Client().get(link)
    submitted = _accept_as_newcomer(Client(), link)

    # Then it has expired and nothing is created
    assert opened.status_code == 410
    assert "expired" in opened.text
    assert submitted.status_code == 410
    assert not User.objects.filter(email=NEWCOMER).exists()
    assert NEWCOMER not in _members(clinic_a)


def test_the_link_still_works_just_before_it_expires(clock, clinic_a, invited):
    # Given an invitation
    link, _ = invited()

    # When it is used just before its time to live runs out
    clock.shift(settings.INVITATION_TTL - 60)
    response = _accept_as_newcomer(Client(), link)

    # Then it works
    assert response.status_code == 302
    assert _members(clinic_a)[NEWCOMER] == Role.PRACTITIONER


def test_an_unknown_link_is_refused():
    # When someone opens an invitation link that was never sent
    response = Client().get(reverse("tenancy:invitation", args=["not-a-real-token"]))

    # Then it is not valid
    assert response.status_code == 410
    assert "not valid" in response.text


def test_an_existing_user_signed_in_with_the_invited_email_can_accept(
    clinic_a, clinic_b, member_client, invited
):
    # Given someone who already works at clinic B, invited to clinic A as admin
    existing, client = member_client(clinic_b, Role.PRACTITIONER)
    link, _ = invited(existing.email.upper(), Role.ADMIN)

    # When they open the link signed in, and accept
    page = client.get(link)
    response = client.post(link)

    # Then they join clinic A as admin and keep their clinic B membership as it was
    assert page.status_code == 200
    assert page.context["form"] is None
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:home", kwargs={"clinic_slug": clinic_a.slug})
    assert _membership(clinic_a, existing).role == Role.ADMIN
    assert _membership(clinic_b, existing).role == Role.PRACTITIONER
    assert User.objects.filter(email__iexact=existing.email).count() == 1


def test_an_existing_user_who_is_not_signed_in_is_asked_to_sign_in(clinic_a, invited):
    # Given an invitation to someone who has an account
    existing = UserFactory()
    link, _ = invited(existing.email, Role.PRACTITIONER)

    # When they open the link signed out, and when they post to it
    page = Client().get(link)
    posted = Client().post(link, {"full_name": "X", "password1": "x", "password2": "x"})

    # Then they are pointed to sign in, and nothing is written
    assert page.status_code == 200
    assert page.context["form"] is None
    assert "Sign in to accept" in page.text
    assert posted.status_code == 302
    # ...and brought back to the invitation afterwards
    assert posted["Location"] == f"{reverse('accounts:signin')}?{urlencode({'next': link})}"
    assert existing.email not in _members(clinic_a)
    assert User.objects.get(pk=existing.pk).check_password(PASSWORD)


def test_a_user_signed_in_with_another_email_cannot_accept(clinic_a, invited):
    # Given an invitation for one address, and someone signed in with a different one
    link, _ = invited(NEWCOMER, Role.ADMIN)
    someone_else = UserFactory()
    client = signed_in_client(someone_else)
    invitations_before = _invitations(clinic_a)

    # When they try to accept it
    response = client.post(link)

    # Then they are refused, and nothing is written
    assert response.status_code == 403
    assert "another email address" in response.text
    assert _invitations(clinic_a) == invitations_before
    assert someone_else.email not in _members(clinic_a)
    assert not User.objects.filter(email=NEWCOMER).exists()
    # And the refusal is in the clinic's audit log, once, by them (P5)
    from bookwell.audit.models import Action, AuditEvent

    with clinic_context(clinic_a):
        denied = list(
            AuditEvent.objects.filter(clinic_id=clinic_a.pk, action=Action.PERMISSION_DENIED)
        )
    assert [(e.actor_id, e.extra["permission"]) for e in denied] == [
        (str(someone_else.pk), "invitation_other_email")
    ]


def test_a_revoked_invitation_no_longer_works(clinic_a, invited):
    # Given an invitation that the owner withdrew
    link, owner = invited()
    with clinic_context(clinic_a):
        invitation = Invitation.objects.get()
    revoke = reverse(
        "tenancy:invitation-revoke",
        kwargs={"clinic_slug": clinic_a.slug, "invitation_id": invitation.pk},
    )
    assert owner.post(revoke).status_code == 302

    # When the invited person follows the link
    opened = Client().get(link)
    submitted = _accept_as_newcomer(Client(), link)

    # Then it is refused as withdrawn and nothing is created
    assert opened.status_code == 410
    assert "withdrawn" in opened.text
    assert submitted.status_code == 410
    assert not User.objects.filter(email=NEWCOMER).exists()


def test_a_new_invitation_to_the_same_address_replaces_the_old_one(clinic_a, invited):
    # Given two invitations to the same person, the second with another role
    old_link, _ = invited(NEWCOMER, Role.READ_ONLY)
    new_link, _ = invited(NEWCOMER, Role.FRONT_DESK)

    # Then the old link is withdrawn and the new one gives the new role
    assert Client().get(old_link).status_code == 410
    assert _accept_as_newcomer(Client(), new_link).status_code == 302
    assert _members(clinic_a)[NEWCOMER] == Role.FRONT_DESK


def test_inviting_an_existing_member_is_refused(clinic_a, member_client, send_invitation):
    # Given an owner and a practitioner of clinic A
    _, owner = member_client(clinic_a, Role.OWNER)
    practitioner, _ = member_client(clinic_a, Role.PRACTITIONER)

    # When the owner invites the practitioner again
    response = send_invitation(owner, clinic_a, practitioner.email, Role.ADMIN)

    # Then it is refused and nothing is sent or written
    assert response.status_code == 409
    assert "already a member" in response.text
    assert len(mail.outbox) == 0
    assert _invitations(clinic_a) == []


# --- Who may invite whom ----------------------------------------------------------------------


def test_an_admin_cannot_invite_an_owner(clinic_a, member_client, send_invitation):
    # Given an admin of clinic A
    _, admin = member_client(clinic_a, Role.ADMIN)

    # When they invite someone as owner
    response = send_invitation(admin, clinic_a, NEWCOMER, Role.OWNER)

    # Then they are refused with the reason, and nothing is sent or written
    assert response.status_code == 403
    assert "Only an owner" in response.text
    assert len(mail.outbox) == 0
    assert _invitations(clinic_a) == []


def test_an_admin_can_invite_other_roles(clinic_a, member_client, send_invitation):
    # Given an admin of clinic A
    _, admin = member_client(clinic_a, Role.ADMIN)

    # When they invite someone as admin
    response = send_invitation(admin, clinic_a, NEWCOMER, Role.ADMIN)

    # Then the invitation goes out
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert _invitations(clinic_a) == [(NEWCOMER, Role.ADMIN, None, None)]


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.FRONT_DESK, Role.READ_ONLY])
def test_members_without_team_management_cannot_invite(
    clinic_a, member_client, send_invitation, role
):
    # Given a member whose role does not manage the team
    _, client = member_client(clinic_a, role)

    # When they try to invite someone
    response = send_invitation(client, clinic_a, NEWCOMER, Role.READ_ONLY)

    # Then they are refused and nothing is sent or written
    assert response.status_code == 403
    assert len(mail.outbox) == 0
    assert _invitations(clinic_a) == []


# --- Changing roles and removing members ------------------------------------------------------


def test_the_last_owner_cannot_be_demoted_or_removed(clinic_a, member_client):
    # Given a clinic with a single owner
    owner, client = member_client(clinic_a, Role.OWNER)
    membership = _membership(clinic_a, owner)

    # When they try to make themselves admin, or to leave
    demoted = client.post(_team_url("tenancy:team-role", clinic_a, membership), {"role": "admin"})
    removed = client.post(_team_url("tenancy:team-remove", clinic_a, membership))

    # Then both are refused, and they are still the owner
    assert demoted.status_code == 409
    assert "at least one owner" in demoted.text
    assert removed.status_code == 409
    assert _members(clinic_a) == {owner.email: Role.OWNER}


def test_with_two_owners_one_can_step_down(clinic_a, member_client):
    # Given a clinic with two owners
    owner, client = member_client(clinic_a, Role.OWNER)
    other, _ = member_client(clinic_a, Role.OWNER)

    # When one makes the other an admin
    response = client.post(
        _team_url("tenancy:team-role", clinic_a, _membership(clinic_a, other)), {"role": "admin"}
    )

    # Then it works, and the remaining owner is now the last one
    assert response.status_code == 302
    assert _members(clinic_a) == {owner.email: Role.OWNER, other.email: Role.ADMIN}
    last = client.post(_team_url("tenancy:team-remove", clinic_a, _membership(clinic_a, owner)))
    assert last.status_code == 409


def test_an_admin_cannot_change_or_remove_an_owner_nor_make_anyone_owner(clinic_a, member_client):
    # Given an admin, an owner and a practitioner of one clinic
    owner, _ = member_client(clinic_a, Role.OWNER)
    admin, client = member_client(clinic_a, Role.ADMIN)
    practitioner, _ = member_client(clinic_a, Role.PRACTITIONER)
    before = _members(clinic_a)
    owner_membership = _membership(clinic_a, owner)

    # When the admin tries to demote the owner, remove the owner, or promote someone to owner
    demote = client.post(
        _team_url("tenancy:team-role", clinic_a, owner_membership), {"role": "read_only"}
    )
    remove = client.post(_team_url("tenancy:team-remove", clinic_a, owner_membership))
    promote = client.post(
        _team_url("tenancy:team-role", clinic_a, _membership(clinic_a, practitioner)),
        {"role": "owner"},
    )
    promote_self = client.post(
        _team_url("tenancy:team-role", clinic_a, _membership(clinic_a, admin)), {"role": "owner"}
    )

    # Then each is refused, and nothing changed
    assert [demote.status_code, remove.status_code, promote.status_code] == [403, 403, 403]
    assert promote_self.status_code == 403
    assert "Only an owner" in demote.text
    assert _members(clinic_a) == before


def test_an_admin_can_change_and_remove_non_owners(clinic_a, member_client):
    # Given an admin and two other non-owner members
    _, client = member_client(clinic_a, Role.ADMIN)
    practitioner, _ = member_client(clinic_a, Role.PRACTITIONER)
    front_desk, _ = member_client(clinic_a, Role.FRONT_DESK)

    # When the admin changes one's role and removes the other
    changed = client.post(
        _team_url("tenancy:team-role", clinic_a, _membership(clinic_a, practitioner)),
        {"role": "read_only"},
    )
    removed = client.post(
        _team_url("tenancy:team-remove", clinic_a, _membership(clinic_a, front_desk))
    )

    # Then both happen
    assert changed.status_code == removed.status_code == 302
    members = _members(clinic_a)
    assert members[practitioner.email] == Role.READ_ONLY
    assert front_desk.email not in members


def test_a_member_of_another_clinic_cannot_be_changed_from_this_one(
    clinic_a, clinic_b, member_client
):
    # Given an owner of clinic A and a member of clinic B
    _, client = member_client(clinic_a, Role.OWNER)
    outsider, _ = member_client(clinic_b, Role.PRACTITIONER)
    target = _membership(clinic_b, outsider)

    # When the owner of A aims clinic A's team actions at B's membership id
    changed = client.post(_team_url("tenancy:team-role", clinic_a, target), {"role": "owner"})
    removed = client.post(_team_url("tenancy:team-remove", clinic_a, target))

    # Then it does not exist for them, and B's membership is untouched
    assert changed.status_code == removed.status_code == 404
    assert _members(clinic_b) == {outsider.email: Role.PRACTITIONER}


# --- Self-serve sign-up -----------------------------------------------------------------------


def test_signing_up_creates_a_clinic_owned_by_the_new_user_and_signs_them_in():
    # Given a visitor
    client = Client()

    # When they sign up
    response = client.post(
        "/signup/",
        {
            "full_name": "Ada Example",
            "email": "ada@example.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "clinic_name": "Ada's Physio Praxis",
            "time_zone": "Europe/Berlin",
            "country": "de",
        },
    )

    # Then a clinic exists with them as its owner, and they are signed in to it
    user = User.objects.get(email="ada@example.test")
    clinic = Clinic.objects.get()
    assert clinic.name == "Ada's Physio Praxis"
    assert clinic.slug == "ada-s-physio-praxis"
    assert clinic.time_zone == "Europe/Berlin"
    assert clinic.country == "DE"
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:home", kwargs={"clinic_slug": clinic.slug})
    with platform_scope("test: every membership of the new user"):
        assert list(Membership.objects.filter(user=user).values_list("clinic", "role")) == [
            (clinic.pk, Role.OWNER)
        ]
    assert client.get(response["Location"]).status_code == 200


def test_signing_up_with_an_email_that_has_an_account_is_refused(clinic_a):
    # Given an existing account
    existing = UserFactory(email="ada@example.test")

    # When someone signs up with the same email in other letter case
    response = Client().post(
        "/signup/",
        {
            "full_name": "Ada Again",
            "email": "ADA@example.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "clinic_name": "Second Clinic",
            "time_zone": "Europe/Berlin",
            "country": "DE",
        },
    )

    # Then it is refused on the email field and no clinic is created
    assert response.status_code == 400
    assert "already exists" in " ".join(response.context["form"].errors["email"])
    assert list(Clinic.objects.values_list("pk", flat=True)) == [clinic_a.pk]
    assert User.objects.filter(email__iexact="ada@example.test").get().pk == existing.pk
