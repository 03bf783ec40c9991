"""The sign-in backend and session store read with prepared statements: they must behave as
Django's own (expired sessions are empty, inactive or unknown users are nobody)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from bookwell.accounts.backends import Backend, SessionStore
from bookwell.accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_session_reads_back_what_was_saved_until_it_expires():
    store = SessionStore()
    store["answer"] = 42
    store.save()
    key = store.session_key

    assert SessionStore(key).load() == {"answer": 42}
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    expired = SessionStore(key)
    assert expired.load() == {}
    assert expired.session_key is None  # a new key is issued on the next save
    assert SessionStore("no-such-session-key-at-all-here").load() == {}


def test_the_backend_finds_active_users_only():
    active = UserFactory()
    inactive = UserFactory(is_active=False)
    backend = Backend()

    found = backend.get_user(active.pk)
    assert found is not None and found.pk == active.pk and found.email == active.email
    assert found.password == active.password  # every column, as the session hash needs
    fresh = User.objects.get(pk=active.pk)
    for field in User._meta.concrete_fields:  # typed as the ORM would (SQLite: bools, times)
        assert getattr(found, field.attname) == getattr(fresh, field.attname), field.name
        assert type(getattr(found, field.attname)) is type(getattr(fresh, field.attname))
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user(999_999) is None
    assert backend.get_user("not a number") is None
