"""Fixed-window rate limits kept in the cache (Redis when configured, else per process).

Keys name an IP network (a /24 or /48, never a full address) or another coarse subject.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(scope: str, subject: str, *, limit: int, window_s: int) -> int:
    """Counts one request; returns 0 when allowed, else the seconds until the window ends."""
    now = int(time.time())
    window = now // window_s
    key = f"rl:{scope}:{subject}:{window}"
    if cache.add(key, 1, timeout=window_s + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window_s + 5)
            count = 1
    if count > limit:
        return (window + 1) * window_s - now or 1
    return 0
