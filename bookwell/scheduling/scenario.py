"""Reading and writing the availability scenario format (bookwell-availability-scenario/1).

The format is described in shared/bench/availability-scenario.md; the benchmark and the
correctness checks use it so that any implementation can be run on the same data.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from bookwell.scheduling.availability import ServiceRules, Slot, StaffSchedule

FORMAT = "bookwell-availability-scenario/1"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Scenario:
    now: int
    first: dt.date
    last: dt.date
    service: ServiceRules
    staff: list[StaffSchedule]


def _minutes(value: str, *, end: bool) -> int:
    if end and value == "24:00":
        return 1440
    match = _HHMM.match(value)
    if not match:
        raise ScenarioError(f"not a wall-clock time HH:MM: {value!r}")
    return int(match[1]) * 60 + int(match[2])


def _intervals(raw: Any) -> list[tuple[int, int]]:
    out = []
    for pair in raw:
        start, end = _minutes(pair[0], end=False), _minutes(pair[1], end=True)
        if start >= end:
            raise ScenarioError(f"interval {pair!r} is empty or reversed")
        out.append((start, end))
    return out


def _instant(value: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"not an ISO 8601 instant: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ScenarioError(f"instant without an offset: {value!r}")
    return int(parsed.timestamp())


def parse(data: dict[str, Any]) -> Scenario:
    if data.get("format") != FORMAT:
        raise ScenarioError(f"format must be {FORMAT}")
    svc = data["service"]
    service = ServiceRules(
        duration_min=int(svc["duration_min"]),
        slot_interval_min=int(svc["slot_interval_min"]),
        buffer_before_min=int(svc.get("buffer_before_min", 0)),
        buffer_after_min=int(svc.get("buffer_after_min", 0)),
        min_notice_min=int(svc.get("min_notice_min", 0)),
        max_advance_days=int(svc.get("max_advance_days", 365)),
    )
    staff = []
    for member in data["staff"]:
        weekly = {WEEKDAYS[day]: _intervals(iv) for day, iv in member.get("weekly", {}).items()}
        overrides = {
            dt.date.fromisoformat(o["date"]): _intervals(o["intervals"])
            for o in member.get("overrides", [])
        }
        busy = [(_instant(a), _instant(b)) for a, b in member.get("busy", [])]
        staff.append(
            StaffSchedule(
                id=str(member["id"]),
                timezone=member["timezone"],
                weekly=weekly,
                overrides=overrides,
                busy=busy,
            )
        )
    first = dt.date.fromisoformat(data["range"]["start"])
    last = dt.date.fromisoformat(data["range"]["end"])
    return Scenario(now=_instant(data["now"]), first=first, last=last, service=service, staff=staff)


def output(slots: list[Slot]) -> dict[str, Any]:
    def fmt(seconds: int) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"slots": [{"start": fmt(s.start), "staff": list(s.staff)} for s in slots]}
