"""API tokens: made by owners and admins (page) or operators (command), shown once, stored
hashed, revocable, expiring; the API accepts nothing else."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bookwell.core.context import clinic_context
from bookwell.integrations.models import ApiToken
from bookwell.integrations.services import api_token_create, api_token_find, api_token_revoke
from bookwell.tenancy.permissions import Role
from tests.integrations.helpers import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_a_digest_with_a_visible_prefix(clinic_a):
    with clinic_context(clinic_a):
        token, secret = api_token_create(
            clinic=clinic_a, name="Website", scopes=["schedule:read", "appointments:write"]
        )
        row = ApiToken.objects.get(pk=token.pk)
        stored = " ".join(str(v) for v in ApiToken.objects.filter(pk=token.pk).values_list()[0])
    assert secret.startswith(f"bw_{row.prefix}_") and len(secret) > 50
    assert row.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored and secret[len("bw_") + 11 :] not in stored  # the random part
    assert row.scopes == ["appointments:write", "schedule:read"]
    found = api_token_find(secret)
    assert found is not None and found.pk == token.pk and found.clinic_id == clinic_a.pk
    # Read with a plain statement: typed as the ORM would (SQLite gives ints and text).
    assert found.clinic.slug == clinic_a.slug and type(found.clinic.require_consent) is bool
    assert isinstance(found.created_at, dt.datetime) and found.scopes == row.scopes


def test_wrong_revoked_and_expired_tokens_find_nothing(clinic_a, clock):
    with clinic_context(clinic_a):
        _token, secret = api_token_create(
            clinic=clinic_a,
            name="Short-lived",
            scopes=["schedule:read"],
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )
    assert api_token_find(secret) is not None
    assert api_token_find(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert api_token_find("bw_nothing") is None
    assert api_token_find("") is None
    clock.shift(dt.timedelta(hours=2))
    assert api_token_find(secret) is None  # expired
    with clinic_context(clinic_a):
        other, other_secret = api_token_create(clinic=clinic_a, name="B", scopes=["admin"])
        api_token_revoke(token=other)
    assert api_token_find(other_secret) is None


def test_last_used_is_written_once_a_day(clinic_a, clock, django_assert_num_queries):
    secret = token_for(clinic_a)
    api_token_find(secret)
    with django_assert_num_queries(1):  # the read only: today is already recorded
        assert api_token_find(secret) is not None
    with clinic_context(clinic_a):
        assert ApiToken.objects.get().last_used_on == timezone.now().date()


def test_bad_names_scopes_and_expiry_are_refused(clinic_a):
    from bookwell.core.errors import ServiceError

    with clinic_context(clinic_a):
        for kwargs in (
            {"name": " ", "scopes": ["admin"]},
            {"name": "x", "scopes": []},
            {"name": "x", "scopes": ["root"]},
            {"name": "x", "scopes": ["admin"], "expires_at": timezone.now() - dt.timedelta(1)},
        ):
            with pytest.raises(ServiceError):
                api_token_create(clinic=clinic_a, **kwargs)
        assert not ApiToken.objects.exists()


def test_the_command_prints_the_token_once_and_lists_prefixes_only(clinic_a):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "token", "create", "--clinic", clinic_a.slug, "--name", "Sync",
        "--scopes", "clients:read", "appointments:read", stdout=out, stderr=err,
    )  # fmt: skip
    secret = out.getvalue().strip()
    assert api_token_find(secret) is not None
    assert "only time" in err.getvalue() and secret not in err.getvalue()
    listing = io.StringIO()
    call_command("token", "list", "--clinic", clinic_a.slug, stdout=listing)
    with clinic_context(clinic_a):
        prefix = ApiToken.objects.get().prefix
    assert prefix in listing.getvalue() and secret not in listing.getvalue()
    call_command(
        "token", "revoke", "--clinic", clinic_a.slug, "--prefix", prefix, stdout=io.StringIO()
    )
    assert api_token_find(secret) is None


def test_owner_makes_a_token_on_the_settings_page_and_sees_it_once(clinic_a, member_client):
    _, browser = member_client(clinic_a, Role.ADMIN)
    url = reverse("integrations:tokens", kwargs={"clinic_slug": clinic_a.slug})
    made = browser.post(url, {"name": "Website", "scopes": ["appointments:write"]})
    assert made.status_code == 200
    assert "no-store" in made["Cache-Control"]
    secret = made.context["secret"]
    assert secret in made.content.decode()
    assert ApiClient(secret).get("/appointments").status_code == 200
    later = browser.get(url).content.decode()
    assert secret not in later and made.context["made"].prefix in later
    # Revoked from the page: the API refuses it at once.
    revoke = reverse(
        "integrations:token-revoke",
        kwargs={"clinic_slug": clinic_a.slug, "token_id": made.context["made"].pk},
    )
    assert browser.post(revoke).status_code == 302
    assert ApiClient(secret).get("/appointments").status_code == 401


def test_bad_token_form_is_a_form_error_and_nothing_is_made(clinic_a, member_client):
    _, browser = member_client(clinic_a, Role.OWNER)
    url = reverse("integrations:tokens", kwargs={"clinic_slug": clinic_a.slug})
    for data in (
        {"name": "", "scopes": ["admin"]},
        {"name": "x"},
        {"name": "x", "scopes": ["nope"]},
        {"name": "x", "scopes": ["admin"], "expires_on": "1999-01-01"},
    ):
        assert browser.post(url, data).status_code == 400
    with clinic_context(clinic_a):
        assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.PRACTITIONER, Role.READ_ONLY])
def test_only_owners_and_admins_manage_tokens(clinic_a, member_client, role):
    _, browser = member_client(clinic_a, role)
    url = reverse("integrations:tokens", kwargs={"clinic_slug": clinic_a.slug})
    assert browser.get(url).status_code == 403
    assert browser.post(url, {"name": "x", "scopes": ["admin"]}).status_code == 403
