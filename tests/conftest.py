from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings
from django.db import connections
from django.test import Client

from bookwell.accounts.models import User
from bookwell.accounts.session import AUTH_AT_KEY
from bookwell.audit import guard as audit_guard
from bookwell.tenancy.models import Clinic
from bookwell.tenancy.permissions import Role
from tests.factories import ClinicFactory, make_member

# Transactional tests end with Django emptying every table (flush); on SQLite that is a DELETE
# the audit table's guard would refuse. The guard's own tests switch this off again.
audit_guard.ALLOW_FLUSH = True


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    """On PostgreSQL, run the tests as the runtime role, so row-level security is real (P1).

    pytest-django has created and migrated the throwaway database as the owning role; from
    here on every connection signs in as BOOKWELL_DB_APP_ROLE, which is not superuser, has
    no BYPASSRLS and owns no table.
    """
    conn = connections["default"]
    role = settings.DB_APP_ROLE
    if conn.vendor != "postgresql" or not role:
        yield
        return
    owner = conn.settings_dict["USER"]
    with django_db_blocker.unblock():
        with conn.cursor() as cursor:
            # Only for the test harness: transactional tests empty tables between tests.
            cursor.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.close()
    conn.settings_dict["USER"] = role
    yield
    with django_db_blocker.unblock():
        conn.close()
    conn.settings_dict["USER"] = owner


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Iterator[time_machine.Traveller]:
    """A stopped clock at the test module's START (moved with clock.shift / clock.move_to)."""
    start = getattr(request.module, "START", datetime(2031, 3, 4, 9, 0, 7, tzinfo=UTC))
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clinic_a(db: None) -> Clinic:
    return ClinicFactory(name="Clinic A", slug="clinic-a")


@pytest.fixture
def clinic_b(db: None) -> Clinic:
    return ClinicFactory(name="Clinic B", slug="clinic-b")


def signed_in_client(user: User) -> Client:
    """A test client with a real authenticated session (as sign-in leaves it)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTH_AT_KEY] = int(time.time())
    session.save()
    return client


@pytest.fixture
def member_client(db: None) -> Callable[[Clinic, Role | str], tuple[User, Client]]:
    def make(clinic: Clinic, role: Role | str = Role.OWNER) -> tuple[User, Client]:
        user = make_member(clinic, role)
        return user, signed_in_client(user)

    return make


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters and other cached state do not leak from one test to the next."""
    from django.core.cache import caches

    from bookwell.core.access import forget_hints

    for cache in caches.all(initialized_only=False):
        cache.clear()
    forget_hints()  # (rows kept to be confirmed: a test's round trips start from none)
    yield


@pytest.fixture(autouse=True, scope="session")
def _data_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Export archives and the keystore's secrets go to temporary directories, not the
    checkout's var/; the environment names them too, for the processes tests start (a
    worker, a server), which must open the same keys."""
    from django.test import override_settings

    exports, keys = tmp_path_factory.mktemp("exports"), tmp_path_factory.mktemp("keystore")
    saved = {k: os.environ.get(k) for k in ("BOOKWELL_EXPORT_DIR", "BOOKWELL_KEYSTORE_DIR")}
    os.environ.update(BOOKWELL_EXPORT_DIR=str(exports), BOOKWELL_KEYSTORE_DIR=str(keys))
    try:
        with override_settings(EXPORT_DIR=exports, KEYSTORE_DIR=keys):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
