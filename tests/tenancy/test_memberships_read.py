"""The staff pages' first read (memberships with their clinics, one hand-written statement)
gives the same objects the ORM would, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookwell.core.context import platform_scope
from bookwell.tenancy.models import Clinic, Membership, Role
from bookwell.tenancy.selectors import memberships_for_user
from tests.factories import ClinicFactory, make_member

pytestmark = pytest.mark.django_db


def _fields(obj: object, model: type[Clinic] | type[Membership]) -> dict[str, object]:
    return {
        f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields if f.name != "logo"
    }


def test_memberships_match_the_orm_field_for_field_in_one_query() -> None:
    first = ClinicFactory(name="Zeta Physio")
    # Values whose stored form differs from Python's: booleans, times, dates, decimals...
    first.require_mfa_for_admins = True
    first.agenda_at = dt.time(6, 45)
    first.save()
    user = make_member(first, Role.ADMIN)
    second = ClinicFactory(name="Alpha Dental")
    with platform_scope("test"):
        Membership.objects.create(clinic=second, user=user, role=Role.FRONT_DESK)
    ClinicFactory(name="Not a member")

    with CaptureQueriesContext(connection) as queries:
        got = memberships_for_user(user)
    assert len(queries.captured_queries) == 1

    with platform_scope("test"):
        expected = list(
            Membership.objects.filter(user=user).select_related("clinic").order_by("clinic__name")
        )
    assert [m.clinic.name for m in got] == ["Alpha Dental", "Zeta Physio"]
    for mine, theirs in zip(got, expected, strict=True):
        assert _fields(mine, Membership) == _fields(theirs, Membership)
        assert _fields(mine.clinic, Clinic) == _fields(theirs.clinic, Clinic)
        assert type(mine.clinic.require_mfa_for_admins) is bool
        assert isinstance(mine.created_at, dt.datetime) and mine.created_at.tzinfo is not None
    # The logo is left out of the read and still loads when asked for.
    assert "logo" in got[1].clinic.get_deferred_fields()


def test_no_memberships_no_rows() -> None:
    user = make_member(ClinicFactory())
    with platform_scope("test"):
        Membership.objects.filter(user=user).delete()
    assert memberships_for_user(user) == []
