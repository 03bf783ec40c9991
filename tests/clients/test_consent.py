"""P18/P22: privacy notices are versioned with effective dates; consent names its version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bookwell.clients.models import ConsentRecord, ImmutableRecord, PrivacyNotice
from bookwell.clients.services import (
    ClientInput,
    client_create,
    consent_record,
    privacy_notice_current,
    privacy_notice_publish,
)
from bookwell.core.context import clinic_context
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db

START = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def test_each_new_version_gets_the_next_number_and_its_own_effective_date(clock, clinic_a):
    with clinic_context(clinic_a):
        v1 = privacy_notice_publish(clinic=clinic_a, body="First words.")
        clock.shift(timedelta(days=3))
        v2 = privacy_notice_publish(clinic=clinic_a, body="Second words.")
        upcoming = privacy_notice_publish(
            clinic=clinic_a, body="Third words.", effective_at=START + timedelta(days=30)
        )

        assert [v1.version, v2.version, upcoming.version] == [1, 2, 3]
        assert v1.effective_at < v2.effective_at < upcoming.effective_at
        assert privacy_notice_current(clinic=clinic_a) == v2  # the third is not in effect yet
        clock.move_to(START + timedelta(days=31))
        assert privacy_notice_current(clinic=clinic_a) == upcoming


def test_versions_are_per_clinic(clinic_a, clinic_b):
    with clinic_context(clinic_a):
        privacy_notice_publish(clinic=clinic_a, body="A one.")
        privacy_notice_publish(clinic=clinic_a, body="A two.")
    with clinic_context(clinic_b):
        assert privacy_notice_publish(clinic=clinic_b, body="B one.").version == 1


def test_consent_records_point_at_the_version_and_are_never_edited(clinic_a):
    with clinic_context(clinic_a):
        notice = privacy_notice_publish(clinic=clinic_a, body="Notice.")
        client = client_create(clinic=clinic_a, data=ClientInput(full_name="Con Sent"))
        record = consent_record(clinic=clinic_a, client=client, notice=notice, method="online")

        assert (record.notice.version, record.method) == (1, "online")
        record.method = "staff"
        with pytest.raises(ImmutableRecord):
            record.save()
        notice.body = "Rewritten history."
        with pytest.raises(ImmutableRecord):
            notice.save()
        assert ConsentRecord.objects.get().method == "online"
        assert PrivacyNotice.objects.get().body == "Notice."


def test_staff_record_consent_to_the_current_version_from_the_client_page(clinic_a, member_client):
    desk_user, desk = member_client(clinic_a, Role.FRONT_DESK)
    with clinic_context(clinic_a):
        old = privacy_notice_publish(clinic=clinic_a, body="Old.")
        client = client_create(clinic=clinic_a, data=ClientInput(full_name="Walk In"))
        current = privacy_notice_publish(clinic=clinic_a, body="New.")
    url = f"/c/{clinic_a.slug}/clients/{client.pk}/consent/"

    stale = desk.post(url, {"notice": old.pk})
    fresh = desk.post(url, {"notice": current.pk})

    assert stale.status_code == fresh.status_code == 302
    with clinic_context(clinic_a):
        records = list(
            ConsentRecord.objects.values_list("notice__version", "method", "recorded_by")
        )
    assert records == [(2, "staff", desk_user.pk)]
    page = desk.get(f"/c/{clinic_a.slug}/clients/{client.pk}/").content.decode()
    assert "Version 2 · Recorded by staff" in page


def test_the_owner_publishes_a_version_from_settings_and_the_past_is_refused(
    clinic_a, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    url = f"/c/{clinic_a.slug}/settings/privacy-notice/"

    past = owner.post(url, {"body": "Backdated.", "effective_at": "2001-01-01T10:00"})
    ok = owner.post(url, {"body": "We only keep what we need."})

    assert past.status_code == 400 and "cannot take effect in the past" in past.content.decode()
    assert ok.status_code == 302
    page = owner.get(url).content.decode()
    assert "In effect: version 1" in page and "We only keep what we need." in page
    with clinic_context(clinic_a):
        assert PrivacyNotice.objects.count() == 1


def test_a_newer_version_cannot_take_effect_before_a_scheduled_one(clock, clinic_a):
    from django.core.exceptions import ValidationError

    with clinic_context(clinic_a):
        privacy_notice_publish(clinic=clinic_a, body="One.")
        scheduled = privacy_notice_publish(
            clinic=clinic_a, body="Two.", effective_at=START + timedelta(days=30)
        )
        with pytest.raises(ValidationError, match="cannot take effect before"):
            privacy_notice_publish(clinic=clinic_a, body="Three, now.")
        later = privacy_notice_publish(
            clinic=clinic_a, body="Three.", effective_at=START + timedelta(days=40)
        )
        clock.move_to(START + timedelta(days=35))
        assert privacy_notice_current(clinic=clinic_a) == scheduled
        clock.move_to(START + timedelta(days=41))
        assert privacy_notice_current(clinic=clinic_a) == later


def test_the_database_refuses_edits_that_skip_the_model(clinic_a):
    from django.db import DatabaseError, transaction

    with clinic_context(clinic_a):
        notice = privacy_notice_publish(clinic=clinic_a, body="Notice.")
        client = client_create(clinic=clinic_a, data=ClientInput(full_name="Con Sent"))
        consent_record(clinic=clinic_a, client=client, notice=notice, method="online")
        with pytest.raises(DatabaseError, match="never edited"), transaction.atomic():
            ConsentRecord.objects.update(method="staff")
        with pytest.raises(DatabaseError, match="never edited"), transaction.atomic():
            PrivacyNotice.objects.update(body="Rewritten.")
        # Erasing the client may clear the link (P17), nothing else.
        ConsentRecord.objects.update(client=None)
        assert ConsentRecord.objects.get().method == "online"
