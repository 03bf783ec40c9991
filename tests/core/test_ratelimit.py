"""Rate limits across processes (issue 11): with REDIS_URL set, two processes count against
one limit; with Redis unreachable, requests go through (a guard must not become an outage)
and the failure is logged by its class."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest
from django.test import override_settings

from bookwell.core import ratelimit

REDIS = os.environ.get("BOOKWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

COUNT = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "bookwell.settings"
django.setup()
from bookwell.core.ratelimit import hit
print(sum(1 for _ in range(4) if hit("test", sys.argv[1], limit=5, window_s=3600) == 0))
"""


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no Redis on this machine")


def test_two_processes_share_one_limit_through_redis(tmp_path):
    _redis_or_skip()
    subject = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env.update(REDIS_URL=REDIS, BOOKWELL_DATA_DIR=str(tmp_path))

    def run() -> int:
        done = subprocess.run(
            [sys.executable, "-c", COUNT, subject],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return int(done.stdout.strip())

    allowed = [run(), run()]
    assert allowed == [4, 1]  # 5 in all, not 5 per process


def test_an_unreachable_cache_lets_requests_through_and_says_so(caplog, monkeypatch):
    monkeypatch.setattr(ratelimit, "_last_warning", -1e9)
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=unreachable), caplog.at_level(logging.WARNING):
        assert ratelimit.hit("test", "someone", limit=0, window_s=60) == 0
        # A guard over a secret, or over what is written, refuses instead.
        assert ratelimit.hit("test", "someone", limit=5, window_s=60, fail_closed=True) == 60
        ratelimit.hit("test", "someone", limit=0, window_s=60)  # (said once a minute)
    [record] = [r for r in caplog.records if r.name == "bookwell.ratelimit"]
    assert record.getMessage() == "rate limit not counted" and record.error == "ConnectionError"
    # (and with a cache that answers, the same limit refuses)
    assert ratelimit.hit("test", uuid.uuid4().hex, limit=0, window_s=60) > 0
