"""The availability engine: working rules, busy times and service rules in; bookable starts out.

Pure Python, no Django: intervals in, slots out. All arithmetic is on integer UTC seconds.
Wall-clock rules (weekly hours, date overrides) are local to each staff member's time zone
and converted once per staff member per date, exactly as
`shared/bench/availability-scenario.md` specifies:

* a local time inside a spring-forward gap maps to the instant the gap ends;
* an ambiguous local time (fall-back) takes its first occurrence;
* so an interval lying wholly inside a gap is empty.

A candidate start `s` is `a + k * interval` inside a working interval `[a, b)` with
`s + duration <= b`; each interval has its own grid. It is free when
`[s - buffer_before, s + duration + buffer_after)` overlaps no busy interval (half-open; an
empty busy interval blocks nothing), `s >= now + min_notice` and `s < now + max_advance`.

Cost: the busy intervals of a staff member are turned into "blocked start" intervals
`(x - duration - buffer_after, y + buffer_before)`, sorted and merged once, and the
candidates, generated in order, are swept against them linearly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTE = 60
DAY = 86_400
UTC = dt.UTC

# A local wall-clock interval: minutes after local midnight, [start, end), end may be 1440.
LocalInterval = tuple[int, int]
# An instant interval in UTC seconds, [start, end).
Interval = tuple[int, int]


@dataclass(frozen=True)
class ServiceRules:
    duration_min: int
    slot_interval_min: int
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    min_notice_min: int = 0
    max_advance_days: int = 365

    def __post_init__(self) -> None:
        if self.duration_min <= 0 or self.slot_interval_min <= 0:
            raise ValueError("duration and slot interval must be positive")
        if min(self.buffer_before_min, self.buffer_after_min, self.min_notice_min) < 0:
            raise ValueError("buffers and notice cannot be negative")
        if self.max_advance_days < 0:
            raise ValueError("maximum advance cannot be negative")


@dataclass(frozen=True)
class StaffSchedule:
    """One staff member's rules. `weekly` is keyed by ISO weekday - 1 (Monday = 0)."""

    id: str
    timezone: str
    weekly: Mapping[int, Sequence[LocalInterval]]
    overrides: Mapping[dt.date, Sequence[LocalInterval]] = field(default_factory=dict)
    busy: Sequence[Interval] = ()


@dataclass(frozen=True)
class Slot:
    start: int  # UTC seconds
    staff: tuple[str, ...]  # sorted by code point
    rooms: tuple[int, ...] = ()  # free rooms the service accepts (filled in by the selector)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(day: dt.date, minute: int, zone: ZoneInfo) -> int:
    """UTC seconds of a local wall-clock time, with the gap and fold rules above."""
    if minute == 1440:
        day, minute = day + dt.timedelta(days=1), 0
    naive = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    first = naive.replace(tzinfo=zone, fold=0)
    utc0 = int(first.timestamp())
    # Round trip: a time that exists comes back unchanged (fold=0 is its first occurrence).
    if dt.datetime.fromtimestamp(utc0, zone).replace(tzinfo=None) == naive:
        return utc0
    # In a gap: the answer is the transition, the first instant whose local time is >= naive.
    # It lies in (fold=1 instant, fold=0 instant]; the offset changes once in between.
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = utc0
    after = dt.datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        mid = (low + high) // 2
        if dt.datetime.fromtimestamp(mid, zone).utcoffset() == after:
            high = mid
        else:
            low = mid
    return high


def _working_intervals(schedule: StaffSchedule, first: dt.date, last: dt.date) -> list[Interval]:
    zone = _zone(schedule.timezone)
    out: list[Interval] = []
    day = first
    one = dt.timedelta(days=1)
    while day <= last:
        rules = schedule.overrides.get(day)
        if rules is None:
            rules = schedule.weekly.get(day.weekday(), ())
        converted: dict[int, int] = {}
        for start_min, end_min in rules:
            if start_min not in converted:
                converted[start_min] = local_to_utc(day, start_min, zone)
            if end_min not in converted:
                converted[end_min] = local_to_utc(day, end_min, zone)
            a, b = converted[start_min], converted[end_min]
            if a < b:
                out.append((a, b))
        day += one
    return out


def _blocked_starts(busy: Iterable[Interval], service: ServiceRules) -> list[Interval]:
    """Open intervals (lo, hi) of starts that some busy interval rules out, merged."""
    before = service.buffer_before_min * MINUTE
    reach = (service.duration_min + service.buffer_after_min) * MINUTE
    spans = sorted((x - reach, y + before) for x, y in busy if x < y)
    merged: list[Interval] = []
    for lo, hi in spans:
        if merged and lo < merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def staff_starts(
    schedule: StaffSchedule,
    service: ServiceRules,
    *,
    now: int,
    first: dt.date,
    last: dt.date,
    at: int | None = None,
) -> list[int]:
    """Free starts of one staff member, sorted, each once; with `at`, [at] if it is one of
    them, else [] (found without walking every start: a booking asks about one)."""
    step = service.slot_interval_min * MINUTE
    duration = service.duration_min * MINUTE
    earliest = now + service.min_notice_min * MINUTE
    latest = now + service.max_advance_days * DAY  # exclusive
    blocked = _blocked_starts(schedule.busy, service)
    intervals = sorted(_working_intervals(schedule, first, last))
    if at is not None:
        # A start is on the grid of its interval, within notice and advance, and outside
        # every blocked (open) interval: exactly what the walk below would reach.
        if not earliest <= at < latest:
            return []
        i = _first_blocking(blocked, at)
        if i < len(blocked) and blocked[i][0] < at:
            return []
        on_grid = any(a <= at <= b - duration and (at - a) % step == 0 for a, b in intervals)
        return [at] if on_grid else []
    starts: list[int] = []
    for a, b in intervals:
        # The grid is anchored at a; skip ahead to the first start allowed by the notice.
        s = a
        if s < earliest:
            s = a + -(-(earliest - a) // step) * step
        last_start = min(b - duration, latest - 1)
        if s > last_start:
            continue
        # Blocked intervals are open: (lo, hi) blocks lo < s < hi. Find the first that may
        # matter with a binary search, then sweep along with the candidates.
        i = _first_blocking(blocked, s)
        while s <= last_start:
            while i < len(blocked) and blocked[i][1] <= s:
                i += 1
            if i < len(blocked) and blocked[i][0] < s:
                # Jump to the first grid point at or after the end of this block.
                hi = blocked[i][1]
                s = a + -(-(hi - a) // step) * step
                continue
            starts.append(s)
            s += step
    starts.sort()
    # Touching intervals may share a start (each has its own grid): keep each once.
    return [x for k, x in enumerate(starts) if k == 0 or x != starts[k - 1]]


def _first_blocking(blocked: list[Interval], s: int) -> int:
    lo, hi = 0, len(blocked)
    while lo < hi:
        mid = (lo + hi) // 2
        if blocked[mid][1] <= s:
            lo = mid + 1
        else:
            hi = mid
    return lo


def available_slots(
    staff: Sequence[StaffSchedule],
    service: ServiceRules,
    *,
    now: int,
    first: dt.date,
    last: dt.date,
    at: int | None = None,
) -> list[Slot]:
    """Every start at which somebody is free, with who is free then (with `at`: that start
    only, if anybody is free then)."""
    by_start: dict[int, list[str]] = {}
    for schedule in staff:
        for s in staff_starts(schedule, service, now=now, first=first, last=last, at=at):
            by_start.setdefault(s, []).append(schedule.id)
    return [Slot(s, tuple(sorted(ids))) for s, ids in sorted(by_start.items())]
