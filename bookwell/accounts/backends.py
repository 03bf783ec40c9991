"""Sign-in backend and session store with the two reads every signed-in request makes done as
bound statements built once, instead of compiled querysets: together they were about a fifth
of a cached calendar page's time (bench/http_load.py). Behaviour is Django's own."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from bookwell.accounts.models import User
from bookwell.core.context import outside_tenancy
from bookwell.core.db.statements import Shape


@functools.cache
def _user_read(alias: str) -> tuple[str, Shape[User]]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    user = Shape(User, connection)
    # Identifiers come from the model and are quoted; the id is a bound parameter.
    sql = f"SELECT {user.select()} FROM {quote(User._meta.db_table)} WHERE {quote('id')} = %s"  # noqa: S608
    return sql, user


class Backend(ModelBackend):
    """Django's ModelBackend; the user of a session is read with one plain statement."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            pk = User._meta.pk.to_python(user_id)
        except Exception:  # a session holding junk: nobody
            return None
        alias = router.db_for_read(User)
        sql, shape = _user_read(alias)
        with outside_tenancy(), connections[alias].cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        user = shape.instance(row)
        return user if self.user_can_authenticate(user) else None


@functools.cache
def _session_sql(alias: str) -> str:
    from django.contrib.sessions.models import Session

    quote = connections[alias].ops.quote_name
    return (
        f"SELECT {quote('session_data')} FROM {quote(Session._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
    )


class SessionStore(db.SessionStore):
    """Django's database session store; loading reads one column with a prepared statement."""

    def load(self) -> dict[str, Any]:
        key = self.session_key
        if not key:
            self._session_key = None
            return {}
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with outside_tenancy(), connection.cursor() as cursor:
            cursor.execute(_session_sql(alias), [key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return dict(self.decode(row[0]))
