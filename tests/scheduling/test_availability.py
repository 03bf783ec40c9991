"""The availability engine: exact across time zones and daylight-saving changes.

A brute-force reference written here independently (minute scans, no shared code) is the
oracle for a property test over random schedules, busy times and time zones.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookwell.scheduling import scenario
from bookwell.scheduling.availability import (
    ServiceRules,
    StaffSchedule,
    available_slots,
    local_to_utc,
)

# The shared example lives beside the repository (../shared); a copy is kept with the tests so
# the suite runs from any checkout, and a test checks the copy against the original.
ORIGINAL = Path(__file__).resolve().parents[3] / "shared" / "bench"
SHARED = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
Z = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=Z).timestamp())


def starts(
    schedule: StaffSchedule,
    service: ServiceRules,
    first: dt.date,
    last: dt.date,
    now: int | None = None,
) -> list[str]:
    if now is None:  # a day before the range: neither notice nor advance limits get in the way
        now = int(dt.datetime.combine(first, dt.time(), Z).timestamp()) - 86400
    slots = available_slots([schedule], service, now=now, first=first, last=last)
    return [dt.datetime.fromtimestamp(s.start, Z).strftime("%m-%d %H:%M") for s in slots]


THIRTY = ServiceRules(duration_min=30, slot_interval_min=30)


# --- The shared example and the benchmark tool ------------------------------------------------


def test_the_shared_small_example_matches_its_expected_output():
    data = json.loads((SHARED / "example-small.json").read_text())
    sc = scenario.parse(data)
    got = scenario.output(
        available_slots(sc.staff, sc.service, now=sc.now, first=sc.first, last=sc.last)
    )
    assert got == json.loads((SHARED / "example-small.expected.json").read_text())


def test_the_copy_of_the_shared_example_is_current():
    if not ORIGINAL.exists():
        pytest.skip("../shared is not beside this checkout")
    for name in ("example-small.json", "example-small.expected.json"):
        assert (SHARED / name).read_bytes() == (ORIGINAL / name).read_bytes(), name


def test_the_benchmark_tool_writes_the_expected_output(tmp_path):
    out = tmp_path / "out.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "availability.py"),
            "--scenario",
            str(SHARED / "example-small.json"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert json.loads(out.read_text()) == json.loads(
        (SHARED / "example-small.expected.json").read_text()
    )


# --- Named daylight-saving days ---------------------------------------------------------------


def berlin(day: dt.date, intervals: list[tuple[int, int]]) -> StaffSchedule:
    return StaffSchedule("s1", "Europe/Berlin", weekly={}, overrides={day: intervals})


def test_spring_forward_day_has_only_the_real_hours():
    # 01:00-04:00 local on 29 March 2026 is two real hours (02:00-03:00 does not exist).
    day = dt.date(2026, 3, 29)
    assert starts(berlin(day, [(60, 240)]), THIRTY, day, day) == [
        "03-29 00:00",
        "03-29 00:30",
        "03-29 01:00",
        "03-29 01:30",
    ]


def test_an_interval_starting_in_the_gap_starts_when_the_gap_ends():
    day = dt.date(2026, 3, 29)
    # 02:30 does not exist: the interval starts at 03:00 CEST (01:00Z).
    assert starts(berlin(day, [(150, 240)]), THIRTY, day, day) == ["03-29 01:00", "03-29 01:30"]


def test_an_interval_wholly_inside_the_gap_is_empty():
    day = dt.date(2026, 3, 29)
    assert starts(berlin(day, [(135, 165)]), THIRTY, day, day) == []


def test_fall_back_day_has_the_repeated_hour():
    # 01:00-04:00 local on 25 October 2026 is four real hours (02:00-03:00 happens twice).
    day = dt.date(2026, 10, 25)
    got = starts(berlin(day, [(60, 240)]), THIRTY, day, day)
    assert len(got) == 8
    assert got[0] == "10-24 23:00" and got[-1] == "10-25 02:30"


def test_an_ambiguous_time_takes_its_first_occurrence():
    zone = ZoneInfo("Europe/Berlin")
    assert local_to_utc(dt.date(2026, 10, 25), 150, zone) == utc(2026, 10, 25, 0, 30)


def test_new_york_spring_forward():
    zone = ZoneInfo("America/New_York")
    assert local_to_utc(dt.date(2026, 3, 8), 150, zone) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert local_to_utc(dt.date(2026, 3, 8), 180, zone) == utc(2026, 3, 8, 7, 0)


def test_lord_howe_half_hour_shifts():
    zone = ZoneInfo("Australia/Lord_Howe")
    # 4 October 2026: 02:00 -> 02:30 (+10:30 -> +11:00); 02:15 is in the gap.
    assert local_to_utc(dt.date(2026, 10, 4), 135, zone) == utc(2026, 10, 3, 15, 30)
    # 5 April 2026: 02:00 -> 01:30; 01:45 happens twice, the first at +11:00.
    assert local_to_utc(dt.date(2026, 4, 5), 105, zone) == utc(2026, 4, 4, 14, 45)


def test_kathmandu_quarter_hour_offset_and_midnight_end():
    schedule = StaffSchedule(
        "k", "Asia/Kathmandu", weekly={0: [(9 * 60, 10 * 60), (23 * 60, 1440)]}
    )
    monday = dt.date(2026, 6, 1)
    assert starts(schedule, THIRTY, monday, monday) == [
        "06-01 03:15",
        "06-01 03:45",
        "06-01 17:15",
        "06-01 17:45",
    ]


def test_buffers_notice_advance_and_touching_intervals():
    day = dt.date(2026, 6, 1)  # a Monday, UTC zone keeps the arithmetic visible
    busy = [
        (utc(2026, 6, 1, 10, 0), utc(2026, 6, 1, 10, 30)),
        (utc(2026, 6, 1, 12, 0), utc(2026, 6, 1, 12, 0)),
    ]
    schedule = StaffSchedule(
        "u", "UTC", weekly={0: [(9 * 60, 11 * 60), (11 * 60, 12 * 60 + 30)]}, busy=busy
    )
    service = ServiceRules(
        duration_min=30, slot_interval_min=30, buffer_before_min=15, buffer_after_min=15
    )
    got = starts(schedule, service, day, day, now=utc(2026, 6, 1, 8, 0))
    # 09:30 would end its buffer at 10:15 (overlap); 10:30's buffer starts 10:15 (overlap);
    # 10:45 is not on the 09:00 grid; 11:00 starts its own grid; the empty busy blocks nothing.
    assert got == ["06-01 09:00", "06-01 11:00", "06-01 11:30", "06-01 12:00"]
    # Notice (150 min from 08:00) starts the day at 10:30; a one-day advance ends it at 08:00
    # the next morning.
    tuesday = StaffSchedule(
        "u", "UTC", weekly={**schedule.weekly, 1: [(7 * 60, 9 * 60)]}, busy=busy
    )
    notice = ServiceRules(
        duration_min=30, slot_interval_min=30, min_notice_min=150, max_advance_days=1
    )
    assert starts(tuesday, notice, day, dt.date(2026, 6, 2), now=utc(2026, 6, 1, 8, 0)) == [
        "06-01 10:30",
        "06-01 11:00",
        "06-01 11:30",
        "06-01 12:00",
        "06-02 07:00",
        "06-02 07:30",
    ]


# --- Property test against a brute-force reference --------------------------------------------


@cache
def ref_local_to_utc(zone_name: str, day: dt.date, minute: int) -> int:
    """The first instant whose local time is at or after the wall-clock time (minute scan)."""
    zone = ZoneInfo(zone_name)
    target = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
    t = int(target.replace(tzinfo=Z).timestamp()) - 15 * 3600
    while dt.datetime.fromtimestamp(t, zone).replace(tzinfo=None) < target:
        t += 60
    return t


def reference(staff, service, now, first, last):
    result: dict[int, set[str]] = {}
    day = first
    while day <= last:
        for s in staff:
            rules = s.overrides.get(day, s.weekly.get(day.weekday(), ()))
            for a_min, b_min in rules:
                a, b = (
                    ref_local_to_utc(s.timezone, day, a_min),
                    ref_local_to_utc(s.timezone, day, b_min),
                )
                start = a
                while start + service.duration_min * 60 <= b:
                    lo = start - service.buffer_before_min * 60
                    hi = start + (service.duration_min + service.buffer_after_min) * 60
                    free = all(not (x < hi and lo < y) for x, y in s.busy if x < y)
                    if (
                        free
                        and now + service.min_notice_min * 60
                        <= start
                        < now + service.max_advance_days * 86400
                    ):
                        result.setdefault(start, set()).add(s.id)
                    start += service.slot_interval_min * 60
        day += dt.timedelta(days=1)
    return [(k, tuple(sorted(v))) for k, v in sorted(result.items())]


# Daylight-saving changes, with the local wall-clock window (minutes) around each.
TRANSITIONS = [
    ("America/New_York", dt.date(2026, 3, 8), (110, 190)),  # 02:00 -> 03:00
    ("Europe/Berlin", dt.date(2026, 3, 29), (110, 190)),  # 02:00 -> 03:00
    ("Australia/Lord_Howe", dt.date(2026, 4, 5), (80, 130)),  # 02:00 -> 01:30
    ("Australia/Lord_Howe", dt.date(2026, 10, 4), (110, 160)),  # 02:00 -> 02:30
    ("Europe/Berlin", dt.date(2026, 10, 25), (110, 190)),  # 03:00 -> 02:00
    ("America/New_York", dt.date(2026, 11, 1), (50, 130)),  # 02:00 -> 01:00
]
OTHER_ZONES = ["Asia/Kathmandu", "UTC", "Europe/Berlin"]


def minutes_near(window: tuple[int, int]) -> st.SearchStrategy[int]:
    lo, hi = window
    return st.one_of(
        st.integers(0, 287).map(lambda m: m * 5), st.integers(lo // 5, hi // 5).map(lambda m: m * 5)
    )


@st.composite
def intervals(draw, window: tuple[int, int]) -> list[tuple[int, int]]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        a = draw(minutes_near(window))
        b = draw(st.one_of(minutes_near(window), st.just(1440)))
        if a < b:
            out.append((a, b))
    return out


@st.composite
def cases(draw):
    zone, change, window = draw(st.sampled_from(TRANSITIONS))
    first = change - dt.timedelta(days=draw(st.integers(0, 1)))
    days = draw(st.integers(1, 3))
    last = first + dt.timedelta(days=days - 1)
    base = int(dt.datetime.combine(first, dt.time(), Z).timestamp()) - 86400
    staff = []
    for i in range(draw(st.integers(1, 3))):
        tz = zone if draw(st.integers(0, 3)) else draw(st.sampled_from(OTHER_ZONES))
        weekly = {d: draw(intervals(window)) for d in range(7) if draw(st.booleans())}
        weekly[change.weekday()] = draw(intervals(window))
        overrides = {}
        if draw(st.booleans()):
            overrides[first + dt.timedelta(days=draw(st.integers(0, days - 1)))] = draw(
                intervals(window)
            )
        busy = []
        for _ in range(draw(st.integers(0, 6))):
            x = base + draw(st.integers(0, (days + 2) * 288)) * 300
            busy.append((x, x + draw(st.integers(0, 36)) * 300))
        staff.append(StaffSchedule(f"s{i}", tz, weekly, overrides, busy))
    service = ServiceRules(
        duration_min=draw(st.sampled_from([15, 20, 30, 45, 60])),
        slot_interval_min=draw(st.sampled_from([5, 10, 15, 30])),
        buffer_before_min=draw(st.sampled_from([0, 5, 15])),
        buffer_after_min=draw(st.sampled_from([0, 10])),
        min_notice_min=draw(st.sampled_from([0, 60, 600])),
        max_advance_days=draw(st.sampled_from([1, 2, 60])),
    )
    now = base + draw(st.integers(0, 2 * 288)) * 300
    return staff, service, now, first, last


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_engine_agrees_with_the_brute_force_reference(case):
    staff, service, now, first, last = case
    got = [
        (s.start, s.staff) for s in available_slots(staff, service, now=now, first=first, last=last)
    ]
    assert got == reference(staff, service, now, first, last)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_asking_about_one_start_agrees_with_the_whole_list(case, data):
    """A booking asks whether one start is free (`at`); the answer must be the full walk's,
    for starts on and off the grid, blocked or not."""
    staff, service, now, first, last = case
    full = available_slots(staff, service, now=now, first=first, last=last)
    starts = [s.start for s in full]
    lo = int(dt.datetime.combine(first, dt.time(), Z).timestamp()) - 86400
    candidates = starts + [lo + 300 * k for k in range(0, (last - first).days * 288 + 576, 7)]
    for at in data.draw(st.lists(st.sampled_from(candidates), max_size=12)) + starts[:3]:
        one = available_slots(staff, service, now=now, first=first, last=last, at=at)
        assert one == [s for s in full if s.start == at]


def test_a_slot_that_fits_exactly_between_two_bookings_is_free():
    day = dt.date(2026, 6, 1)
    busy = [
        (utc(2026, 6, 1, 10, 0), utc(2026, 6, 1, 10, 30)),
        (utc(2026, 6, 1, 11, 0), utc(2026, 6, 1, 11, 30)),
    ]
    schedule = StaffSchedule("u", "UTC", weekly={0: [(10 * 60, 12 * 60)]}, busy=busy)
    assert starts(schedule, THIRTY, day, day) == ["06-01 10:30", "06-01 11:30"]
