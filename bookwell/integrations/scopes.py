"""What an API token may do: read or write one area of the clinic, or administer it.

Every API operation declares the one scope it needs (integrations.endpoint); the OpenAPI
document lists it per operation (`x-scope`), and the scope suite walks the document.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Scope(StrEnum):
    APPOINTMENTS_READ = "appointments:read"
    APPOINTMENTS_WRITE = "appointments:write"
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"
    SCHEDULE_READ = "schedule:read"
    SCHEDULE_WRITE = "schedule:write"
    ADMIN = "admin"


SCOPE_LABELS = {
    Scope.APPOINTMENTS_READ: _("Read appointments, availability and the waitlist"),
    Scope.APPOINTMENTS_WRITE: _("Book, move, cancel and change appointments"),
    Scope.CLIENTS_READ: _("Read client records, consents and privacy notices"),
    Scope.CLIENTS_WRITE: _("Create and edit client records"),
    Scope.SCHEDULE_READ: _("Read locations, rooms, services, staff and hours"),
    Scope.SCHEDULE_WRITE: _("Change hours, overrides, time off and closures"),
    Scope.ADMIN: _("Administer the clinic's integrations (webhooks)"),
}
SCOPE_CHOICES = [(s.value, SCOPE_LABELS[s]) for s in Scope]

# A write scope includes reading the same area.
IMPLIED = {
    Scope.APPOINTMENTS_WRITE: {Scope.APPOINTMENTS_READ},
    Scope.CLIENTS_WRITE: {Scope.CLIENTS_READ},
    Scope.SCHEDULE_WRITE: {Scope.SCHEDULE_READ},
}


def effective(granted: list[str] | set[str]) -> frozenset[Scope]:
    out: set[Scope] = set()
    for value in granted:
        try:
            scope = Scope(value)
        except ValueError:
            continue
        out.add(scope)
        out |= IMPLIED.get(scope, set())
    return frozenset(out)
