"""Cursor pagination for API lists: stable under inserts, opaque and tamper-proof.

A list is ordered by `updated_at, id` where the model has `updated_at` (so `updated_since`
plus the cursor walks every change exactly once for incremental sync), else by `id`. The
cursor is the last row's sort key, signed so a client cannot forge one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core import signing
from django.db.models import Model, Q, QuerySet

from bookwell.integrations.problems import ApiError

SALT = "bookwell.api.cursor"
MAX_LIMIT = 200


def _has_updated_at(model: type[Model]) -> bool:
    return any(f.name == "updated_at" for f in model._meta.concrete_fields)


def page[M: Model](
    qs: QuerySet[M, Any],
    *,
    cursor: str | None,
    limit: int,
    updated_since: dt.datetime | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `qs` and the cursor of the next (None at the end)."""
    by_time = _has_updated_at(qs.model)
    if updated_since is not None:
        if not by_time:
            raise ApiError(400, "bad_filter", "This list cannot be filtered by updated_since.")
        qs = qs.filter(updated_at__gte=updated_since)
    order = ("updated_at", "pk") if by_time else ("pk",)
    qs = qs.order_by(*order)
    if cursor:
        try:
            key: list[Any] = signing.loads(cursor, salt=SALT)
            if by_time:
                at, last = dt.datetime.fromisoformat(key[0]), key[1]
                # The first condition is implied by the second; it lets an index on
                # (clinic, updated_at, id) start the page where the last one ended.
                qs = qs.filter(updated_at__gte=at).filter(
                    Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=last)
                )
            else:
                qs = qs.filter(pk__gt=key[0])
        except (signing.BadSignature, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ApiError(400, "invalid_cursor", "This cursor is not one we handed out.") from exc
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    last_row = rows[-1]
    if isinstance(last_row, dict):  # a .values() list: the fastest to render
        pk, changed = last_row["id"], last_row.get("updated_at")
    else:
        pk, changed = last_row.pk, getattr(last_row, "updated_at", None)
    pk = pk if isinstance(pk, int) else str(pk)
    key = [changed.isoformat(), pk] if by_time and changed else [pk]
    return rows, signing.dumps(key, salt=SALT, compress=True)
