"""Reused PostgreSQL connections are checked without a round trip, and a connection the server
has dropped is still noticed and replaced before a request uses it."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (run by `make test` against a throwaway database)")


def _between_requests() -> None:
    # What Django does at the end of one request and the start of the next.
    connection.close_if_unusable_or_obsolete()
    connection.ensure_connection()


def _health_check() -> None:
    connection.health_check_enabled = True
    connection.close_if_health_check_failed()


def test_an_idle_healthy_connection_is_reused_without_asking_the_server(pg, monkeypatch) -> None:
    _between_requests()
    raw = connection.connection
    asked: list[str] = []
    real_cursor = raw.cursor

    def counting_cursor(*args: object, **kwargs: object) -> object:
        asked.append("cursor")
        return real_cursor(*args, **kwargs)

    monkeypatch.setattr(raw, "cursor", counting_cursor)
    _health_check()
    assert connection.connection is raw
    assert asked == []


def test_a_connection_the_server_dropped_is_replaced_before_use(pg) -> None:
    _between_requests()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    raw = connection.connection
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    # The server writes its goodbye and closes the socket; wait until it has arrived.
    deadline = time.monotonic() + 10
    while not select.select([raw.fileno()], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "the server never closed the connection"

    _between_requests()
    _health_check()
    assert connection.connection is not raw  # replaced, not handed to the request broken
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
