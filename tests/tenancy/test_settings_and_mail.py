"""Clinic settings reject what would break later; a mail outage never becomes an error page."""

from __future__ import annotations

import pytest
from django.core import mail

from bookwell.core.context import platform_scope
from bookwell.tenancy.models import Invitation
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def settings_form(clinic, **changes):
    data = {
        "name": clinic.name,
        "contact_email": "",
        "time_zone": "Europe/Berlin",
        "country": "DE",
        "locale": "en",
        **changes,
    }
    return data


@pytest.mark.parametrize("name", ["Evil\r\nBcc: victim@example.test", "Tab\there", "Nul\x00"])
def test_a_clinic_name_with_control_characters_is_refused(clinic_a, member_client, name):
    _, owner = member_client(clinic_a, Role.OWNER)
    response = owner.post(f"/c/{clinic_a.slug}/settings/", settings_form(clinic_a, name=name))
    assert response.status_code == 400
    body = response.content.decode()
    assert "single line" in body or "Null characters are not allowed" in body
    clinic_a.refresh_from_db()
    assert clinic_a.name == "Clinic A"


def test_signup_with_a_broken_clinic_name_is_a_form_error(client):
    response = client.post(
        "/signup/",
        {
            "full_name": "New Owner",
            "email": "new.owner@example.test",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "clinic_name": "Line\nbreak",
            "time_zone": "Europe/Berlin",
            "country": "DE",
        },
    )
    assert response.status_code == 400 and "single line" in response.content.decode()


def test_an_invitation_is_kept_when_the_mail_server_is_down(
    clinic_a, member_client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    _, owner = member_client(clinic_a, Role.OWNER)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("bookwell.core.mail.send_mail", down)
    with caplog.at_level("ERROR"), django_capture_on_commit_callbacks(execute=True) as sent:
        response = owner.post(
            f"/c/{clinic_a.slug}/team/invite/", {"email": "late@example.test", "role": "front_desk"}
        )
    assert response.status_code == 302
    assert len(sent) == 1 and mail.outbox == []
    with platform_scope("test"):
        assert Invitation.objects.filter(email="late@example.test").count() == 1
    assert "email could not be sent" in caplog.text
    assert "late@example.test" not in caplog.text  # P7: no address in the log


def test_a_password_reset_request_during_a_mail_outage_still_answers(client, clinic_a, monkeypatch):
    from tests.factories import make_member

    make_member(clinic_a, Role.OWNER, email="owner@example.test")

    def down(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.contrib.auth.forms.PasswordResetForm.send_mail", down)
    response = client.post("/password/reset/", {"email": "owner@example.test"})
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"


def test_the_owner_sets_the_client_rules_and_a_lower_case_country(clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    response = owner.post(
        f"/c/{clinic_a.slug}/settings/",
        settings_form(
            clinic_a,
            country="fr",
            time_zone="UTC",
            collect_date_of_birth="on",
        ),
    )
    assert response.status_code == 302
    clinic_a.refresh_from_db()
    assert (clinic_a.country, clinic_a.time_zone) == ("FR", "UTC")
    assert clinic_a.collect_date_of_birth
    assert not clinic_a.client_email_unique  # an unticked box turns the rule off
