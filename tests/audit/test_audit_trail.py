"""The audit trail (issue 8, P5-P7): sign-in events with where-from signals and no personal
data, a hash chain that shows tampering, and a table the database will not let anyone edit."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from bookwell.audit.models import Action, ActorKind, AuditEvent, Device, IpHashKey, Outcome
from bookwell.audit.services import (
    Actor,
    AuditError,
    audit_purge_before,
    audit_record,
    audit_verify,
    ip_keys_purge,
)
from bookwell.audit.signals import classify_agent, country_of
from bookwell.core.context import platform_scope
from bookwell.tenancy.permissions import Role
from tests.factories import PASSWORD, make_member

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 9, 0, 7, tzinfo=dt.UTC)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ADDRESS = "8.8.8.77"  # a public address the shipped country data knows


def _events() -> list[AuditEvent]:
    with platform_scope("test"):
        return list(AuditEvent.objects.order_by("chain", "seq"))


def _sign_in(email: str, password: str, agent: str = PHONE, **extra: str):
    return Client().post(
        "/signin/",
        {"email": email, "password": password},
        REMOTE_ADDR=ADDRESS,
        HTTP_USER_AGENT=agent,
        **extra,
    )


def test_a_sign_in_is_recorded_once_with_its_signals_and_no_personal_data(clinic_a, clock):
    user = make_member(clinic_a, Role.FRONT_DESK, email="sentinel.person@example.test")
    response = _sign_in(user.email, PASSWORD)
    assert response.status_code == 302

    [event] = [e for e in _events() if e.action == Action.SIGNIN_SUCCEEDED]
    assert (event.outcome, event.actor_kind, event.actor_id) == ("success", "user", str(user.pk))
    assert event.clinic_id is None and event.chain == 0 and event.seq == 1
    assert event.ip_network == "8.8.8.0/24"
    assert re.fullmatch(r"[0-9a-f]{64}", event.ip_hash)
    assert (event.device, event.browser, event.os) == (Device.MOBILE, "Mobile Safari", "iOS")
    assert event.country == "US"
    assert re.fullmatch(r"[0-9a-f]{16}", event.request_id)
    assert event.at == START
    # Nothing in the row is the address, the email or the user agent (P6, P7).
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent")
        raw = " ".join(str(v) for row in cursor.fetchall() for v in row)
    for secret in (ADDRESS, user.email, "sentinel", "iPhone OS 17_0", user.full_name):
        assert secret not in raw


def test_failures_lockouts_and_sign_outs_are_recorded(clinic_a, clock, settings):
    user = make_member(clinic_a, Role.FRONT_DESK, email="pat@example.test")
    assert _sign_in("nobody@example.test", "whatever").status_code == 400
    assert _sign_in(user.email, "wrong password").status_code == 400
    browser = Client()
    browser.post("/signin/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR=ADDRESS)
    assert browser.post("/signout/", REMOTE_ADDR=ADDRESS).status_code == 302
    clock.shift(60)
    for _ in range(settings.SIGNIN_MAX_FAILURES):
        _sign_in(user.email, "wrong again")
    assert _sign_in(user.email, PASSWORD).status_code == 429

    seen = [(e.action, e.outcome, e.actor_kind) for e in _events()]
    assert seen[:4] == [
        (Action.SIGNIN_FAILED, Outcome.FAILURE, ActorKind.ANONYMOUS),
        (Action.SIGNIN_FAILED, Outcome.FAILURE, ActorKind.ANONYMOUS),
        (Action.SIGNIN_SUCCEEDED, Outcome.SUCCESS, ActorKind.USER),
        (Action.SIGNOUT, Outcome.SUCCESS, ActorKind.USER),
    ]
    assert seen[-1] == (Action.SIGNIN_LOCKED, Outcome.DENIED, ActorKind.ANONYMOUS)
    assert len(seen) == 4 + settings.SIGNIN_MAX_FAILURES + 1  # each attempt exactly once
    # Which account an attempt was on (its id, never the address typed), and why it failed.
    events = _events()
    assert [(e.target_kind, e.target_id, e.extra) for e in events[:2]] == [
        ("", "", {"reason": "unknown_account"}),
        ("user", str(user.pk), {"reason": "password"}),
    ]
    assert (events[-1].target_kind, events[-1].target_id) == ("user", str(user.pk))
    assert [e.seq for e in _events()] == list(range(1, len(seen) + 1))


def test_a_forged_forwarded_for_header_does_not_change_the_recorded_network(clinic_a, clock):
    user = make_member(clinic_a, Role.FRONT_DESK)
    _sign_in(user.email, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4")
    [event] = _events()
    assert event.ip_network == "8.8.8.0/24"  # no trusted proxy: REMOTE_ADDR counts


def test_only_ids_and_enums_go_into_an_event():
    with pytest.raises(AuditError):
        audit_record(action="made.up", actor=Actor(ActorKind.SYSTEM))
    with pytest.raises(AuditError):  # a name where an id belongs
        audit_record(action=Action.SIGNOUT, actor=Actor(ActorKind.USER, "Ada Lovelace"))
    with pytest.raises(AuditError):  # free text in the extra data
        audit_record(
            action=Action.SIGNIN_FAILED,
            actor=Actor(ActorKind.ANONYMOUS),
            extra={"reason": "typed ada@example.test"},
        )
    assert _events() == []


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (PHONE, (Device.MOBILE, "Mobile Safari", "iOS")),
        (DESKTOP, (Device.DESKTOP, "Firefox", "Linux")),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
            (Device.TABLET, "Mobile Safari", "iOS"),
        ),
        # A bot is a bot; the name it gives itself is its own words, not a known family.
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", (Device.BOT, "", "")),
        (
            "Mozilla/5.0 (compatible; ZebulonQuarringtonBot/2.1)",
            (Device.BOT, "", ""),
        ),
        ("curl/8.5.0", (Device.OTHER, "curl", "")),
        ("", (Device.OTHER, "", "")),
        ("\x00\xff garbage ((( ", (Device.OTHER, "", "")),
    ],
)
def test_devices_browsers_and_systems_are_classified(agent, expected):
    assert classify_agent(agent) == expected


def test_countries_come_from_the_offline_data_or_are_unknown():
    assert country_of("8.8.8.8") == "US"
    assert country_of("10.1.2.3") == "unknown"  # a private address
    assert country_of("not an address") == "unknown"


def _three_events() -> None:
    for _ in range(3):
        audit_record(action=Action.SIGNOUT, actor=Actor(ActorKind.USER, "7"))


def test_an_intact_chain_verifies_and_the_command_says_so():
    _three_events()
    assert audit_verify(0).intact and audit_verify(0).events == 3
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "platform: intact (3 events)" in out.getvalue()


def test_the_database_refuses_to_change_or_remove_an_event(monkeypatch):
    from bookwell.audit import guard

    monkeypatch.setattr(guard, "ALLOW_FLUSH", False)  # as outside the test suite
    _three_events()
    for sql in (
        "UPDATE audit_auditevent SET actor_id = '8' WHERE seq = 2",
        "DELETE FROM audit_auditevent WHERE seq = 2",
    ):
        with (
            pytest.raises(DatabaseError),
            platform_scope("test: the rows are visible"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert audit_verify(0).intact


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="needs the table's guard lifted (the owner, SQLite)"
)
@pytest.mark.parametrize(
    ("tamper", "broken_at", "reason"),
    [
        ("UPDATE audit_auditevent SET actor_id = '8' WHERE seq = 2", 2, "altered"),
        ("DELETE FROM audit_auditevent WHERE seq = 2", 2, "missing event"),
        ("DELETE FROM audit_auditevent WHERE seq = 3", 3, "missing at the end"),
        (
            "UPDATE audit_auditevent SET seq = CASE seq WHEN 2 THEN 102 WHEN 3 THEN 2 END "
            "WHERE seq IN (2, 3); UPDATE audit_auditevent SET seq = 3 WHERE seq = 102",
            2,
            "wrong predecessor",
        ),
    ],
)
def test_tampering_is_found_at_the_first_broken_event(tamper, broken_at, reason):
    _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER bookwell_audit_no_update")
        cursor.execute("DROP TRIGGER bookwell_audit_no_delete")  # (the suite allows flush)
        for sql in tamper.split("; "):
            cursor.execute(sql)
    report = audit_verify(0)
    assert (report.intact, report.broken_at, report.reason) == (False, broken_at, reason)
    with pytest.raises(CommandError):
        call_command("audit", "verify", stdout=StringIO())


def test_the_retention_path_removes_old_events_and_the_rest_still_verifies(clock):
    _three_events()
    clock.shift(dt.timedelta(days=40))
    audit_record(action=Action.SIGNOUT, actor=Actor(ActorKind.USER, "7"))
    removed = audit_purge_before(before=START + dt.timedelta(days=1))
    assert removed == 3
    assert [e.seq for e in _events()] == [4]
    report = audit_verify(0)
    assert report.intact and report.events == 1


def test_address_hashing_keys_older_than_the_window_are_destroyed(clinic_a, clock, settings):
    user = make_member(clinic_a, Role.FRONT_DESK)
    _sign_in(user.email, PASSWORD)
    first = _events()[0].ip_hash
    clock.shift(dt.timedelta(days=1))
    _sign_in(user.email, PASSWORD)
    second = _events()[-1].ip_hash
    assert first != second  # the same address, another day: not linkable
    clock.shift(dt.timedelta(days=settings.AUDIT_IP_KEY_DAYS + 1))
    assert ip_keys_purge() == 2
    assert not IpHashKey.objects.exists()


def test_the_guard_triggers_are_in_place_after_every_migration():
    """SQLite drops a table's triggers when a migration rebuilds it: a later migration of
    the audit table must put them back (this fails until it does)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_auditevent'"
            )
            expected = {"bookwell_audit_no_update", "bookwell_audit_no_delete"}
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = 'audit_auditevent'::regclass AND NOT tgisinternal"
            )
            expected = {"bookwell_audit_guard"}
        assert {row[0] for row in cursor.fetchall()} == expected


def test_api_tokens_made_and_revoked_are_recorded_in_the_clinics_chain(clinic_a, member_client):
    from django.urls import reverse

    from bookwell.core.context import clinic_context
    from bookwell.integrations.models import ApiToken

    owner, client = member_client(clinic_a, Role.OWNER)
    url = reverse("integrations:tokens", kwargs={"clinic_slug": clinic_a.slug})
    assert client.post(url, {"name": "Website", "scopes": ["appointments:read"]}).status_code in (
        200,
        302,
    )
    with clinic_context(clinic_a):
        token = ApiToken.objects.get()
    revoke = reverse(
        "integrations:token-revoke", kwargs={"clinic_slug": clinic_a.slug, "token_id": token.pk}
    )
    assert client.post(revoke).status_code == 302
    made, revoked = [e for e in _events() if e.chain == clinic_a.pk]
    assert (made.action, made.actor_id, made.target_id) == (
        Action.API_TOKEN_CREATED,
        str(owner.pk),
        str(token.pk),
    )
    assert made.extra == {"scopes": ["appointments:read"]} and made.clinic_id == clinic_a.pk
    assert (revoked.action, revoked.seq) == (Action.API_TOKEN_REVOKED, 2)
    assert audit_verify(clinic_a.pk).intact


def test_a_refused_page_and_a_refused_api_call_are_recorded_once(clinic_a, member_client):
    from django.urls import reverse

    from bookwell.integrations.services import api_token_create

    user, client = member_client(clinic_a, Role.PRACTITIONER)
    settings_page = reverse("tenancy:settings", kwargs={"clinic_slug": clinic_a.slug})
    assert client.get(settings_page, REMOTE_ADDR=ADDRESS).status_code == 403
    from bookwell.core.context import clinic_context

    with clinic_context(clinic_a):
        token, secret = api_token_create(
            clinic=clinic_a, name="Reader", scopes=["appointments:read"]
        )
    api = Client().get("/api/v1/clients", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 403
    denied = [e for e in _events() if e.action == Action.PERMISSION_DENIED]
    assert [(e.actor_kind, e.actor_id, e.outcome, e.clinic_id) for e in denied] == [
        (ActorKind.USER, str(user.pk), Outcome.DENIED, clinic_a.pk),
        (ActorKind.API_TOKEN, str(token.pk), Outcome.DENIED, clinic_a.pk),
    ]
    assert denied[0].extra == {"permission": "clinic.settings", "route": "tenancy:settings"}
    assert denied[0].ip_network == "8.8.8.0/24"
    assert denied[1].extra["permission"] == "clients:read"
    assert audit_verify(clinic_a.pk).intact


def test_full_addresses_are_kept_only_for_the_security_window(clinic_a, clock, settings):
    from bookwell.audit.models import SecuritySighting
    from bookwell.audit.services import audit_retention

    user = make_member(clinic_a, Role.FRONT_DESK)
    _sign_in(user.email, PASSWORD)
    _sign_in(user.email, "wrong")
    assert sorted(SecuritySighting.objects.values_list("ip", flat=True)) == [ADDRESS, ADDRESS]
    clock.shift(dt.timedelta(days=settings.AUDIT_RAW_IP_DAYS) - dt.timedelta(minutes=1))
    assert audit_retention()["raw_ips"] == 0  # still inside the window
    clock.shift(dt.timedelta(minutes=2))
    assert audit_retention()["raw_ips"] == 2
    assert not SecuritySighting.objects.exists()
    # No audit column holds a full address.
    with platform_scope("test"), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent")
        assert ADDRESS not in " ".join(str(v) for row in cursor.fetchall() for v in row)


def test_the_retention_job_runs_daily_from_the_worker():
    from bookwell.core import periodic

    [job] = [j for j in periodic.jobs() if j.name == "audit.retention"]
    assert job.every == dt.timedelta(days=1)


def test_a_sign_in_from_a_new_country_succeeds_and_sends_exactly_one_notice(
    clinic_a, clock, django_capture_on_commit_callbacks
):
    from django.core import mail

    user = make_member(clinic_a, Role.FRONT_DESK, email="traveller@example.test")

    def sign_in(ip: str):
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(
                "/signin/",
                {"email": user.email, "password": PASSWORD},
                REMOTE_ADDR=ip,
                HTTP_USER_AGENT=DESKTOP,
            )

    assert sign_in(ADDRESS).status_code == 302  # the first sign-in: nothing to compare
    clock.shift(dt.timedelta(days=3))
    assert sign_in(ADDRESS).status_code == 302  # the same device and country
    assert mail.outbox == []
    clock.shift(dt.timedelta(days=3))
    assert sign_in("81.169.145.1").status_code == 302  # Germany: allowed, and told
    assert len(mail.outbox) == 1
    [notice] = mail.outbox
    assert notice.to == [user.email] and "Country: DE" in notice.body
    [event] = [e for e in _events() if e.action == Action.SIGNIN_NEW_CONTEXT]
    assert (event.clinic_id, event.target_id, event.extra) == (
        clinic_a.pk,
        str(user.pk),
        {"changed": ["country"]},
    )
    clock.shift(dt.timedelta(days=1))
    assert sign_in("193.99.144.80").status_code == 302  # Germany again: seen lately
    assert len(mail.outbox) == 1
    # After more than 90 quiet days, even the usual device and country get a notice: a
    # dormant account signed into again is the case the notice is for.
    clock.shift(dt.timedelta(days=91))
    assert sign_in("193.99.144.80").status_code == 302
    assert len(mail.outbox) == 2
    latest = [e for e in _events() if e.action == Action.SIGNIN_NEW_CONTEXT][-1]
    assert latest.extra == {"changed": ["device", "browser", "country"]}


@pytest.mark.django_db(transaction=True)
def test_the_retention_path_deletes_with_the_guard_on_and_other_deletes_are_refused(monkeypatch):
    """Committed rows, the guard as in production: only the retention path deletes."""
    from bookwell.audit import guard

    monkeypatch.setattr(guard, "ALLOW_FLUSH", False)
    _three_events()
    with (
        pytest.raises(DatabaseError),
        platform_scope("test"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent")
    assert len(_events()) == 3
    assert audit_purge_before(before=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == 3
    assert _events() == []


def test_owners_read_filter_and_export_the_clinics_log_with_names_resolved(
    clinic_a, clinic_b, member_client
):
    import csv
    import io

    from django.urls import reverse

    from bookwell.integrations.services import api_token_create

    owner, client = member_client(clinic_a, Role.OWNER)
    owner.full_name = "Olga Owner"
    owner.save(update_fields=["full_name"])
    from bookwell.core.context import clinic_context

    with clinic_context(clinic_a):
        api_token_create(
            clinic=clinic_a, name="Website", scopes=["schedule:read"], created_by=owner
        )
    with clinic_context(clinic_b):
        api_token_create(clinic=clinic_b, name="Elsewhere", scopes=["schedule:read"])
    _, practitioner = member_client(clinic_a, Role.PRACTITIONER)
    practitioner.get(reverse("tenancy:settings", kwargs={"clinic_slug": clinic_a.slug}))

    url = reverse("audit:events", kwargs={"clinic_slug": clinic_a.slug})
    html = client.get(url).content.decode()
    assert "<td>Olga Owner</td>" in html
    assert "<td>API token created</td>" in html and "<td>Permission denied</td>" in html
    assert "The log is intact: 2 events" in html
    assert "Elsewhere" not in html  # another clinic's events are not here
    # Names are not in the events themselves (P7).
    assert not [e for e in _events() if "Olga" in str(e.__dict__)]

    only_denials = client.get(url, {"action": Action.PERMISSION_DENIED}).content.decode()
    assert "<td>Permission denied</td>" in only_denials
    assert "<td>API token created</td>" not in only_denials
    bad = client.get(url, {"first": "2031-03-05", "last": "2031-03-01"})
    assert bad.status_code == 400 and "must not be after" in bad.content.decode()
    nonsense = client.get(url, {"action": "drop table"})
    assert nonsense.status_code == 400

    export = client.get(reverse("audit:export", kwargs={"clinic_slug": clinic_a.slug}))
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [r["action"] for r in rows] == [Action.PERMISSION_DENIED, Action.API_TOKEN_CREATED]
    assert rows[1]["actor"] == "Olga Owner" and rows[1]["actor_id"] == str(owner.pk)


def test_team_and_settings_changes_are_recorded_once_each_with_the_acting_owner(
    clinic_a, member_client
):
    from django.urls import reverse

    from bookwell.core.context import clinic_context
    from bookwell.tenancy.models import Invitation, Membership
    from tests.security.registry import CLINIC_ROUTES

    owner, client = member_client(clinic_a, Role.OWNER)

    def post(name: str, data: dict, **kwargs) -> None:
        url = reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs})
        assert client.post(url, data).status_code in (200, 302), name

    post("tenancy:team-invite", {"email": "new.person@example.test", "role": Role.FRONT_DESK})
    with clinic_context(clinic_a):
        invitation = Invitation.objects.get()
    post("tenancy:invitation-revoke", {}, invitation_id=invitation.pk)
    colleague = make_member(clinic_a, Role.PRACTITIONER)
    with clinic_context(clinic_a):
        membership = Membership.objects.get(user=colleague)
    post("tenancy:team-role", {"role": Role.READ_ONLY}, membership_id=membership.pk)
    post("tenancy:team-remove", {}, membership_id=membership.pk)
    for name in ("tenancy:settings", "tenancy:settings-branding", "tenancy:settings-embedding"):
        route = CLINIC_ROUTES[name]
        assert route.post is not None
        post(name, route.post(clinic_a))

    mine = [e for e in _events() if e.chain == clinic_a.pk]
    assert [(e.action, e.actor_kind, e.actor_id) for e in mine] == [
        (Action.INVITATION_SENT, ActorKind.USER, str(owner.pk)),
        (Action.INVITATION_REVOKED, ActorKind.USER, str(owner.pk)),
        (Action.ROLE_CHANGED, ActorKind.USER, str(owner.pk)),
        (Action.MEMBER_REMOVED, ActorKind.USER, str(owner.pk)),
        (Action.SETTINGS_CHANGED, ActorKind.USER, str(owner.pk)),
        (Action.SETTINGS_CHANGED, ActorKind.USER, str(owner.pk)),
        (Action.SETTINGS_CHANGED, ActorKind.USER, str(owner.pk)),
    ]
    assert mine[0].extra == {"role": "front_desk"}
    assert mine[2].extra == {"role": "read_only", "previous": "practitioner"}
    assert mine[2].target_id == mine[3].target_id == str(colleague.pk)
    assert [e.extra["section"] for e in mine[4:]] == ["profile", "branding", "embedding"]
    assert "name" in mine[4].extra["fields"]
    # Values are not recorded: no new name, no address (P7).
    assert not [e for e in mine if "renamed" in str(e.extra) or "@" in str(e.extra)]
    assert audit_verify(clinic_a.pk).intact


def test_an_accepted_invitation_is_recorded_with_the_new_member_as_actor(clinic_a):
    from bookwell.accounts.models import User
    from bookwell.tenancy.models import Membership
    from bookwell.tenancy.services import invitation_accept, invitation_create

    owner = make_member(clinic_a, Role.OWNER)
    from bookwell.core.context import clinic_context

    with clinic_context(clinic_a):
        actor = Membership.objects.get(user=owner)
        token = invitation_create(
            clinic=clinic_a, actor=actor, email="joiner@example.test", role=Role.FRONT_DESK
        )
    joiner = User.objects.create_user(
        email="joiner@example.test", password=None, full_name="Joe Joiner"
    )
    invitation_accept(token=token, user=joiner)
    accepted = [e for e in _events() if e.action == Action.INVITATION_ACCEPTED]
    assert [(e.actor_id, e.clinic_id) for e in accepted] == [(str(joiner.pk), clinic_a.pk)]


def test_authenticator_changes_are_recorded_in_the_platform_trail(clinic_a):
    import pyotp

    from bookwell.accounts.services import mfa_disable, mfa_enable, recovery_codes_regenerate

    user = make_member(clinic_a, Role.OWNER)
    secret = pyotp.random_base32()
    assert mfa_enable(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    recovery_codes_regenerate(user=user)
    mfa_disable(user=user)
    seen = [(e.action, e.target_id, e.chain) for e in _events()]
    assert seen == [
        (Action.MFA_ENABLED, str(user.pk), 0),
        (Action.RECOVERY_CODES_NEW, str(user.pk), 0),
        (Action.MFA_DISABLED, str(user.pk), 0),
    ]


def _expected_actions() -> dict[tuple[str, str], str]:
    kinds = ("services", "staff", "locations", "rooms")
    expected = {
        ("clients:new", "POST"): Action.CLIENT_CREATED,
        ("clients:edit", "POST"): Action.CLIENT_UPDATED,
        ("clients:edit", "GET"): Action.CLIENT_VIEWED,
        ("clients:detail", "GET"): Action.CLIENT_VIEWED,
        ("clients:export", "GET"): Action.CLIENTS_EXPORTED,
        ("scheduling:schedule", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:override-add", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:override-delete", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:time-off-add", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:time-off-delete", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:closures", "POST"): Action.SCHEDULE_CHANGED,
        ("scheduling:closure-delete", "POST"): Action.SCHEDULE_CHANGED,
        # Settings, texts and integrations
        ("tenancy:settings", "POST"): Action.SETTINGS_CHANGED,
        ("tenancy:settings-booking", "POST"): Action.SETTINGS_CHANGED,
        ("tenancy:settings-branding", "POST"): Action.SETTINGS_CHANGED,
        ("tenancy:settings-embedding", "POST"): Action.SETTINGS_CHANGED,
        ("clients:privacy-notices", "POST"): Action.SETTINGS_CHANGED,
        ("notifications:sending", "POST"): Action.SETTINGS_CHANGED,
        ("notifications:rule-add", "POST"): Action.SETTINGS_CHANGED,
        ("notifications:rule-remove", "POST"): Action.SETTINGS_CHANGED,
        ("notifications:template-edit", "POST"): Action.TEMPLATE_CHANGED,
        ("notifications:feed-issue", "POST"): Action.INTEGRATION_CHANGED,
        ("integrations:webhooks", "POST"): Action.INTEGRATION_CHANGED,
        ("integrations:webhook-toggle", "POST"): Action.INTEGRATION_CHANGED,
        ("integrations:webhook-delete", "POST"): Action.INTEGRATION_CHANGED,
    }
    for kind in kinds:
        for suffix in ("new", "edit", "archive"):
            expected[(f"scheduling:{kind}-{suffix}", "POST")] = Action.CATALOG_CHANGED
    return expected


@pytest.mark.parametrize(("name", "method"), sorted(_expected_actions()))
def test_each_recorded_staff_action_appears_exactly_once(name, method, clinic_a, member_client):
    """Driven by the route registry: the owner does it through the page; the clinic's trail
    gains exactly that one event, by them, and still verifies (P5)."""
    from django.urls import reverse

    from tests.security.registry import CLINIC_ROUTES

    route = CLINIC_ROUTES[name]
    if route.setup:
        route.setup(clinic_a)
    kwargs = route.url_kwargs(clinic_a)
    owner, client = member_client(clinic_a, Role.OWNER)
    url = reverse(name, kwargs={"clinic_slug": clinic_a.slug, **kwargs})
    before = {e.pk for e in _events()}
    if method == "GET":
        response = client.get(url)
        if response.streaming:  # the export: read it all, as a browser would
            b"".join(response.streaming_content)
    else:
        assert route.post is not None
        response = client.post(url, route.post(clinic_a))
    assert response.status_code in route.success_status, response.status_code
    new = [e for e in _events() if e.pk not in before]
    assert [(e.action, e.actor_id, e.clinic_id) for e in new] == [
        (_expected_actions()[(name, method)], str(owner.pk), clinic_a.pk)
    ]
    # Where from, filled for every action (the test client comes from 127.0.0.1).
    [event] = new
    assert event.ip_network == "127.0.0.0/24" and len(event.ip_hash) == 64
    assert event.device and event.country and len(event.request_id) == 16
    assert audit_verify(clinic_a.pk).intact


def test_client_records_read_through_the_api_and_imports_are_recorded(clinic_a, member_client):
    from bookwell.clients.csv_io import import_clients
    from bookwell.clients.services import ClientInput, client_create
    from bookwell.core.context import clinic_context
    from bookwell.integrations.services import api_token_create

    with clinic_context(clinic_a):
        person = client_create(clinic=clinic_a, data=ClientInput(full_name="Api Read"))
        token, secret = api_token_create(clinic=clinic_a, name="Sync", scopes=["clients:read"])
        report = import_clients(
            clinic=clinic_a, data=b"full_name,email\nImported One,one@example.test\n"
        )
    assert report.imported == 1
    read = Client().get(f"/api/v1/clients/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert read.status_code == 200
    events = [e for e in _events() if e.chain == clinic_a.pk]
    viewed = [e for e in events if e.action == Action.CLIENT_VIEWED]
    assert [(e.actor_kind, e.actor_id, e.target_id, e.extra) for e in viewed] == [
        (ActorKind.API_TOKEN, str(token.pk), str(person.pk), {"via": "api"})
    ]
    imported = [e for e in events if e.action == Action.CLIENTS_IMPORTED]
    assert [e.extra for e in imported] == [{"rows": 1}]
    assert "Imported" not in str([e.extra for e in events])


def test_a_password_change_is_recorded_for_the_account(clinic_a, member_client):
    user, client = member_client(clinic_a, Role.FRONT_DESK)
    response = client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a brand new long passphrase",
            "new_password2": "a brand new long passphrase",
        },
    )
    assert response.status_code == 302
    [event] = [e for e in _events() if e.action == Action.PASSWORD_CHANGED]
    assert (event.actor_id, event.target_id, event.chain) == (str(user.pk), str(user.pk), 0)


def test_refused_api_tokens_are_recorded_where_they_belong_and_a_flood_is_not(clinic_a, clock):
    """A revoked, expired or misspelt token of a clinic: an event in that clinic's chain with
    the reason; a token nobody issued: one in the platform's. A flood is capped."""
    from bookwell.core.context import clinic_context
    from bookwell.integrations.models import ApiToken
    from bookwell.integrations.services import api_token_create

    with clinic_context(clinic_a):
        revoked, revoked_secret = api_token_create(clinic=clinic_a, name="Old", scopes=["admin"])
        expired, expired_secret = api_token_create(
            clinic=clinic_a, name="Exp", scopes=["admin"], expires_at=START + dt.timedelta(days=1)
        )
        live, live_secret = api_token_create(clinic=clinic_a, name="Live", scopes=["admin"])
        ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=START)
    clock.shift(dt.timedelta(days=2))
    misspelt = live_secret[:-3] + ("xyz" if not live_secret.endswith("xyz") else "abc")
    nobody = "bw_0123456789_" + "a" * 43
    for secret in (revoked_secret, expired_secret, misspelt, nobody):
        answer = Client(REMOTE_ADDR=ADDRESS).get(
            "/api/v1/clinic", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )
        assert answer.status_code == 401
    refused = [e for e in _events() if e.action == Action.API_TOKEN_REFUSED]
    assert [(e.chain, e.actor_kind, e.target_id, e.extra["reason"]) for e in refused] == [
        (0, ActorKind.ANONYMOUS, "", "unknown_token"),
        (clinic_a.pk, ActorKind.API_TOKEN, str(revoked.pk), "revoked"),
        (clinic_a.pk, ActorKind.API_TOKEN, str(expired.pk), "expired"),
        (clinic_a.pk, ActorKind.API_TOKEN, str(live.pk), "wrong_secret"),
    ]
    assert all(e.outcome == Outcome.DENIED and e.ip_network == "8.8.8.0/24" for e in refused)
    text = " ".join(str(e.extra) + e.actor_id + e.target_id for e in refused)
    assert "bw_" not in text  # no secret, not even its prefix
    for _ in range(20):  # someone trying made-up tokens from one network
        Client(REMOTE_ADDR=ADDRESS).get("/api/v1/clinic", HTTP_AUTHORIZATION=f"Bearer {nobody}")
    platform = [e for e in _events() if e.action == Action.API_TOKEN_REFUSED and e.chain == 0]
    assert len(platform) == 5  # the cap per network and ten minutes
    assert audit_verify(clinic_a.pk).intact and audit_verify(0).intact


def test_message_texts_reminder_rules_and_sending_settings_are_recorded(clinic_a, member_client):
    from django.urls import reverse

    from bookwell.core.context import clinic_context
    from bookwell.notifications.models import ReminderRule

    _owner, client = member_client(clinic_a, Role.OWNER)
    kwargs = {"clinic_slug": clinic_a.slug}
    text = reverse(
        "notifications:template-edit",
        kwargs={**kwargs, "kind": "reminder", "channel": "email", "language": "de"},
    )
    secret_words = "Liebe Frau Quarrington"
    saved = client.post(text, {"subject": "Bald: {date}", "body": secret_words, "action": "save"})
    assert saved.status_code in (200, 302)
    assert client.post(text, {"action": "reset"}).status_code in (200, 302)
    assert client.post(text, {"action": "reset"}).status_code in (200, 302)  # nothing to reset
    rule = client.post(
        reverse("notifications:rule-add", kwargs=kwargs),
        {"rule-amount": "2", "rule-unit": "60", "rule-channel": "email"},
    )
    assert rule.status_code in (200, 302)
    with clinic_context(clinic_a):
        made = ReminderRule.objects.get()
    removed = client.post(
        reverse("notifications:rule-remove", kwargs={**kwargs, "rule_id": made.pk})
    )
    assert removed.status_code in (200, 302)
    sending = reverse("notifications:sending", kwargs=kwargs)
    form = {
        "sending-sms_enabled": "on",
        "sending-quiet_start": "21:00",
        "sending-quiet_end": "08:00",
    }
    assert client.post(sending, form).status_code in (200, 302)
    assert client.post(sending, form).status_code in (200, 302)  # the same again: no change
    events = [e for e in _events() if e.chain == clinic_a.pk]
    assert [(e.action, e.extra) for e in events] == [
        (
            Action.TEMPLATE_CHANGED,
            {"kind": "reminder", "channel": "email", "language": "de", "change": "saved"},
        ),
        (
            Action.TEMPLATE_CHANGED,
            {"kind": "reminder", "channel": "email", "language": "de", "change": "reset"},
        ),
        (Action.SETTINGS_CHANGED, {"section": "reminders", "fields": ["reminder_rules"]}),
        (Action.SETTINGS_CHANGED, {"section": "reminders", "fields": ["reminder_rules"]}),
        (
            Action.SETTINGS_CHANGED,
            {"section": "sending", "fields": ["quiet_end", "quiet_start", "sms_enabled"]},
        ),
    ]
    assert "Quarrington" not in " ".join(str(e.extra) for e in events)


def test_password_resets_sign_outs_everywhere_and_mfa_failures_are_recorded_once_each(
    clinic_a, clock
):
    import pyotp
    from django.core import mail

    from bookwell.accounts import services as accounts

    user = make_member(clinic_a, Role.FRONT_DESK, email="reset.me@example.test")
    browser = Client(REMOTE_ADDR=ADDRESS)
    browser.post("/password/reset/", {"email": user.email})
    [message] = mail.outbox
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+/)", message.body)
    assert link
    opened = browser.get(link.group(1))
    new_password = "a fresh long passphrase 42"
    done = browser.post(
        opened["Location"], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done.status_code == 302
    assert browser.post("/signout/everywhere/").status_code == 302
    secret = accounts.totp_new_secret()
    accounts.mfa_enable(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    clock.shift(60)
    phone = Client(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=PHONE)
    assert (
        phone.post("/signin/", {"email": user.email, "password": new_password}).status_code == 302
    )
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    phone.post("/signin/verify/", {"code": wrong})
    counts: dict[str, int] = {}
    for e in _events():
        if e.actor_id == str(user.pk) or e.target_id == str(user.pk):
            counts[e.action] = counts.get(e.action, 0) + 1
    assert counts[Action.PASSWORD_RESET] == 1
    assert counts[Action.SIGNOUT_EVERYWHERE] == 1
    assert counts[Action.MFA_ENABLED] == 1
    assert counts[Action.MFA_FAILED] == 1


def test_a_refusal_inside_a_service_is_recorded_as_a_denial(clinic_a, member_client):
    """An admin may open the team page but not make someone an owner: refused by the service,
    and recorded once like any refused page (P5)."""
    from django.urls import reverse

    from tests.security.registry import CLINIC_ROUTES

    target = CLINIC_ROUTES["tenancy:team-role"].url_kwargs(clinic_a)
    admin, client = member_client(clinic_a, Role.ADMIN)
    url = reverse("tenancy:team-role", kwargs={"clinic_slug": clinic_a.slug, **target})
    response = client.post(url, {"role": Role.OWNER})
    assert response.status_code in (302, 400, 403)
    denied = [e for e in _events() if e.action == Action.PERMISSION_DENIED]
    assert [(e.actor_id, e.clinic_id, e.extra) for e in denied] == [
        (str(admin.pk), clinic_a.pk, {"permission": "team.manage_owners", "route": "team"})
    ]


def test_client_records_read_in_a_list_through_the_api_are_recorded_by_count(clinic_a):
    """A token paging through every record, or searching, leaves a trace like an export:
    how many records, never whose (P5, P7)."""
    from bookwell.clients.services import ClientInput, client_create
    from bookwell.core.context import clinic_context
    from bookwell.integrations.services import api_token_create

    with clinic_context(clinic_a):
        for n in range(3):
            client_create(
                clinic=clinic_a,
                data=ClientInput(full_name=f"Quillon {n}", email=f"quillon{n}@example.test"),
            )
        token, secret = api_token_create(clinic=clinic_a, name="Sync", scopes=["clients:read"])
    api = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert api.get("/api/v1/clients", {"limit": 2}, **headers).status_code == 200
    assert api.get("/api/v1/clients", {"q": "quillon1@example.test"}, **headers).status_code == 200
    listed = [e for e in _events() if e.action == Action.CLIENTS_LISTED]
    assert [(e.actor_kind, e.actor_id, e.extra) for e in listed] == [
        (ActorKind.API_TOKEN, str(token.pk), {"via": "api_list", "rows": 2}),
        (ActorKind.API_TOKEN, str(token.pk), {"via": "api_search", "rows": 1}),
    ]
    assert "quillon" not in str([e.__dict__ for e in listed]).lower()


def test_the_audit_export_cannot_run_a_formula_in_a_spreadsheet(clinic_a, member_client):
    import csv
    import io

    from django.urls import reverse

    from bookwell.core.context import clinic_context
    from bookwell.integrations.services import api_token_create

    owner, client = member_client(clinic_a, Role.OWNER)
    owner.full_name = '=HYPERLINK("https://evil.example","x")'
    owner.save(update_fields=["full_name"])
    with clinic_context(clinic_a):
        api_token_create(clinic=clinic_a, name="@SUM(1+1)", scopes=["admin"], created_by=owner)
    export = client.get(reverse("audit:export", kwargs={"clinic_slug": clinic_a.slug}))
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert rows and all(not row["actor"].startswith(("=", "@", "+", "-")) for row in rows)
    assert any(row["actor"] == "'" + owner.full_name for row in rows)


def test_reissuing_a_calendar_link_is_one_event(clinic_a, member_client):
    from bookwell.core.context import clinic_context
    from bookwell.notifications.feeds import feed_issue, feed_revoke
    from bookwell.scheduling.models import StaffMember

    with clinic_context(clinic_a):
        staff = StaffMember.objects.create(clinic=clinic_a, display_name="Dr. Feed")
        feed_issue(clinic=clinic_a, staff=staff)
        feed_issue(clinic=clinic_a, staff=staff)
        feed_revoke(staff=staff)
        feed_revoke(staff=staff)  # nothing left to stop: nothing recorded
    changes = [e.extra["change"] for e in _events() if e.action == Action.INTEGRATION_CHANGED]
    assert changes == ["added", "replaced", "removed"]


def test_a_sign_in_after_the_old_events_are_purged_still_gets_the_notice(
    clinic_a, clock, settings, django_capture_on_commit_callbacks
):
    """The account remembers its last sign-in when the platform's events of that time are
    past retention: a dormant account signed into again is told (P11)."""
    from django.core import mail

    from bookwell.audit.services import audit_retention

    settings.AUDIT_PLATFORM_RETENTION_DAYS = 30
    user = make_member(clinic_a, Role.FRONT_DESK, email="sleeper@example.test")

    def sign_in():
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(
                "/signin/",
                {"email": user.email, "password": PASSWORD},
                REMOTE_ADDR=ADDRESS,
                HTTP_USER_AGENT=DESKTOP,
            )

    assert sign_in().status_code == 302
    assert mail.outbox == []
    clock.shift(dt.timedelta(days=400))
    audit_retention()
    assert not [e for e in _events() if e.action == Action.SIGNIN_SUCCEEDED]
    assert sign_in().status_code == 302
    assert len(mail.outbox) == 1


def test_a_wrong_code_when_turning_on_the_authenticator_is_recorded_as_a_failure(clinic_a, clock):
    import pyotp

    from tests.conftest import signed_in_client

    user = make_member(clinic_a, Role.OWNER)
    client = signed_in_client(user)
    client.get("/account/mfa/")
    secret = client.session["bookwell_mfa_enrol_secret"]
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert client.post("/account/mfa/", {"code": wrong, "password": PASSWORD}).status_code == 400
    failed = [e for e in _events() if e.action == Action.MFA_FAILED]
    assert [(e.outcome, e.target_id, e.actor_id) for e in failed] == [
        (Outcome.FAILURE, str(user.pk), str(user.pk))
    ]
