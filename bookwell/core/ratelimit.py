"""Fixed-window rate limits kept in the cache (Redis when configured, else per process).

Keys name an IP network (a /24 or /48, never a full address) or another coarse subject.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger("bookwell.ratelimit")
_last_warning = -1e9


def hit(scope: str, subject: str, *, limit: int, window_s: int, fail_closed: bool = False) -> int:
    """Counts one request; returns 0 when allowed, else the seconds until the window ends.

    With the cache (Redis) unreachable, requests are let through and the failure is logged by
    its class (at most once a minute per process): a rate limit is a guard against floods,
    and failing closed would turn a Redis outage into a whole-service outage (sign-in
    lockouts are counted in the database). Guards that protect a secret, or cap what is
    written, pass `fail_closed`: without the cache they refuse (for the window)."""
    now = int(time.time())
    window = now // window_s
    key = f"rl:{scope}:{subject}:{window}"
    try:
        count = _count(key, window_s)
    except Exception as exc:
        global _last_warning
        if time.monotonic() - _last_warning > 60:
            _last_warning = time.monotonic()
            logger.warning("rate limit not counted", extra={"error": type(exc).__name__})
        return window_s if fail_closed else 0
    if count > limit:
        return (window + 1) * window_s - now or 1
    return 0


def _count(key: str, window_s: int) -> int:
    if cache.add(key, 1, timeout=window_s + 5):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s + 5)
        return 1
