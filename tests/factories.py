"""Factories that keep related objects inside one clinic."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

import factory
from django.contrib.auth.hashers import make_password
from django.db import connection

from bookwell.accounts.models import User
from bookwell.core.context import clinic_context
from bookwell.tenancy.models import Clinic, Membership
from bookwell.tenancy.permissions import Role

PASSWORD = "correct horse battery staple"


@cache
def _password_hash() -> str:
    # Argon2id is slow on purpose; hash the shared test password once.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Sequence(lambda n: f"Staff Member {n}")
    password = factory.LazyFunction(_password_hash)


class ClinicFactory(factory.django.DjangoModelFactory[Clinic]):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "Europe/Berlin"
    country = "DE"
    # No allowance gets in the way of tests about other things; tests/tenancy/test_plans.py
    # gives clinics small plans.
    plan = "unlimited"


def make_member(clinic: Clinic, role: Role | str = Role.OWNER, **user_fields: object) -> User:
    user = UserFactory(**user_fields)
    with clinic_context(clinic):
        Membership.objects.create(clinic=clinic, user=user, role=role)
    return user


def bookwell_as_deployed(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bookwell ARGS` on the PostgreSQL test database as a deploy runs it: the
    runtime role as DATABASE_URL, the schema's owner as DATABASE_OWNER_URL."""
    params = connection.settings_dict
    where = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env.update(
        DATABASE_URL=f"postgresql://{params['USER']}@{where}",
        DATABASE_OWNER_URL=f"postgresql://bookwell_owner@{where}",
        BOOKWELL_DATA_DIR=os.environ.get("BOOKWELL_DATA_DIR", "/tmp"),
    )
    return subprocess.run(
        [sys.executable, "-m", "bookwell", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
