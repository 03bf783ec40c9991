"""Roles and what they may do: the one table (P2).

Every permission-protected view declares one of these; the role-matrix test walks this table.
No view or service asks "is this user an admin?": it asks for a permission.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    PRACTITIONER = "practitioner"
    FRONT_DESK = "front_desk"
    READ_ONLY = "read_only"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.OWNER: _("Owner"),
    Role.ADMIN: _("Admin"),
    Role.PRACTITIONER: _("Practitioner"),
    Role.FRONT_DESK: _("Front desk"),
    Role.READ_ONLY: _("Read-only"),
}
ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in Role]


class Perm(StrEnum):
    CLINIC_VIEW = "clinic.view"  # the staff home of the clinic
    CLINIC_SETTINGS = "clinic.settings"  # profile, security policy
    TEAM_VIEW = "team.view"  # see members and pending invitations
    TEAM_MANAGE = "team.manage"  # invite, change roles, remove (not owners)
    TEAM_MANAGE_OWNERS = "team.manage_owners"  # grant, change or remove the owner role
    CLIENTS_VIEW = "clients.view"  # list, search and open client records
    CLIENTS_EDIT = "clients.edit"  # create and edit client records
    CLIENTS_IMPORT = "clients.import"  # bulk import from CSV
    CLIENTS_EXPORT = "clients.export"  # download every client as CSV
    CLIENTS_PRIVACY = "clients.privacy"  # carry out clients' rights: copy, erase, restrict
    CALENDAR_VIEW = "calendar.view"  # the calendar, appointments and the overview charts
    APPOINTMENTS_MANAGE = "appointments.manage"  # book, move, change status, cancel, waitlist
    SCHEDULES_MANAGE = "schedules.manage"  # working hours, date overrides, time off, closures
    CATALOG_MANAGE = "catalog.manage"  # services, staff members, locations, rooms
    NOTIFICATIONS_VIEW = "notifications.view"  # what was sent, failed or skipped; resend
    NOTIFICATIONS_MANAGE = "notifications.manage"  # message texts, reminder rules, SMS, quiet
    API_MANAGE = "api.manage"  # API tokens (and webhooks)
    AUDIT_VIEW = "audit.view"  # the clinic's audit log and its export
    CLINIC_DATA = "clinic.data"  # the privacy center: export the clinic's data, delete it
    PAYMENTS_MANAGE = "payments.manage"  # payment set-up, refunds, the payments list


_EVERY_MEMBER = {Perm.CLINIC_VIEW, Perm.CLIENTS_VIEW, Perm.CALENDAR_VIEW}
_FRONT_LINE = _EVERY_MEMBER | {Perm.CLIENTS_EDIT, Perm.APPOINTMENTS_MANAGE}
_MANAGERS = _FRONT_LINE | {
    Perm.CLINIC_SETTINGS,
    Perm.SCHEDULES_MANAGE,
    Perm.CATALOG_MANAGE,
    Perm.TEAM_VIEW,
    Perm.TEAM_MANAGE,
    Perm.CLIENTS_IMPORT,
    Perm.CLIENTS_EXPORT,
    Perm.CLIENTS_PRIVACY,
    Perm.NOTIFICATIONS_VIEW,
    Perm.NOTIFICATIONS_MANAGE,
    Perm.API_MANAGE,
    Perm.AUDIT_VIEW,
    Perm.PAYMENTS_MANAGE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(_MANAGERS | {Perm.TEAM_MANAGE_OWNERS, Perm.CLINIC_DATA}),
    Role.ADMIN: frozenset(_MANAGERS),
    Role.PRACTITIONER: frozenset(_FRONT_LINE),
    Role.FRONT_DESK: frozenset(
        _FRONT_LINE | {Perm.TEAM_VIEW, Perm.SCHEDULES_MANAGE, Perm.NOTIFICATIONS_VIEW}
    ),
    Role.READ_ONLY: frozenset(_EVERY_MEMBER),
}

# Roles whose members must use a second factor when the clinic requires it (P3).
MFA_ENFORCEABLE_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def role_has(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
