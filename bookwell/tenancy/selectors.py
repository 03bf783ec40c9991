"""Reads for clinics and memberships."""

from __future__ import annotations

import functools

from django.apps import apps
from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from bookwell.accounts.models import User
from bookwell.core.context import platform_scope
from bookwell.core.db.statements import Shape
from bookwell.tenancy.models import Clinic, Invitation, Membership


@functools.cache
def _memberships_read(alias: str) -> tuple[str, Shape[Membership], Shape[Clinic]]:
    """The one statement behind memberships_for_user, built once from the models' metadata.

    Every staff page runs this read first. Compiling the equivalent queryset (a join with the
    clinic's 27 columns) took 0.38 of its 0.59 ms; as one plain statement, with the calendar
    version, it is one round trip (bench/http_load.py's calendar day view is measured with
    it)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    member = Shape(Membership, connection)
    # The logo's bytes are served by their own view: left out here (deferred).
    clinic = Shape(Clinic, connection, leave_out="logo")
    members, clinics = quote(Membership._meta.db_table), quote(Clinic._meta.db_table)
    # Identifiers come from the models and are quoted; the one value is a bound parameter.
    # The clinic's calendar version comes along (bookings.grid_cache: a cached calendar grid
    # is keyed by it, and it must be read before the grid's data, as it is here).
    stamps = quote(apps.get_model("bookings", "CalendarStamp")._meta.db_table)
    sql = (
        f"SELECT {member.select('m')}, {clinic.select('c')}, s.{quote('version')} "  # noqa: S608
        f"FROM {members} m JOIN {clinics} c ON c.{quote('id')} = m.{quote('clinic_id')} "
        f"LEFT JOIN {stamps} s ON s.{quote('clinic_id')} = c.{quote('id')} "
        f"WHERE m.{quote('user_id')} = %s"
    )
    return sql, member, clinic


def memberships_for_user(user: User) -> list[Membership]:
    """Every clinic the user belongs to (the clinic switcher), with its clinic, ordered by
    the clinic's name: a platform read by design. Each clinic carries the calendar version
    read with it (`calendar_version_read`, for bookings.grid_cache)."""
    alias = router.db_for_read(Membership)
    sql, member, clinic = _memberships_read(alias)
    with (
        platform_scope("a user's own memberships across clinics"),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute(sql, [user.pk])
        rows = cursor.fetchall()
    memberships = []
    for row in rows:
        membership = member.instance(row)
        membership.clinic = clinic.instance(row, member.width)
        # Fresh for this request only: never keep these clinic objects across requests.
        membership.clinic.calendar_version_read = row[-1]  # type: ignore[attr-defined]
        memberships.append(membership)
    memberships.sort(key=lambda m: (m.clinic.name, m.pk))
    return memberships


def team_members(*, clinic: Clinic) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(clinic=clinic)
        .select_related("user")
        .order_by("user__full_name", "pk")
    )


def open_invitations(*, clinic: Clinic) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        clinic=clinic,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")
