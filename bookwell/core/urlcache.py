"""reverse() remembered per process: URLs are fixed while a process runs (one URLconf, one
script prefix), and working one out again cost ~25 µs on every link of every page (a tenth
of the staff calendar's page chrome, bench/http_load.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import get_script_prefix, get_urlconf, reverse

_remembered: dict[tuple[Any, ...], str] = {}
LIMIT = 20_000  # distinct links kept (clinic slugs x routes); past it, start afresh
_PLAIN = (str, int, uuid.UUID)


def cached_reverse(
    viewname: str,
    args: list[Any] | tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    current_app: str | None = None,
) -> str:
    args = tuple(args or ())
    kwargs = kwargs or {}
    if not all(isinstance(v, _PLAIN) for v in (*args, *kwargs.values())):
        # Objects (a lazy string, a model) may turn into text differently next time.
        return reverse(viewname, args=args, kwargs=kwargs, current_app=current_app)
    key = (
        viewname,
        args,
        tuple(sorted(kwargs.items())),
        current_app,
        get_urlconf(),
        get_script_prefix(),
    )
    found = _remembered.get(key)
    if found is None:
        found = reverse(viewname, args=args, kwargs=kwargs, current_app=current_app)
        if len(_remembered) >= LIMIT:
            _remembered.clear()
        _remembered[key] = found
    return found
