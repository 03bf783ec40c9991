"""Availability engine benchmark (issue 4).

    python bench/availability.py --scenario FILE [--out OUT]   one scenario: writes the output
                                                               JSON, prints the compute time
    python bench/availability.py                               generated scenarios of 1x7,
                                                               20x30 and 50x60 (staff x days)

For the generated ones it prints compute time and time per slot, and the ratio of time per
slot at 50x60 to that at 20x30 measured in the same run (goal: within 1.5x, i.e. linear).
The scenario format is shared/bench/availability-scenario.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bookwell.scheduling import scenario as sc  # noqa: E402
from bookwell.scheduling.availability import available_slots  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]


def generate(staff_count: int, days: int, seed: int = 1) -> dict:
    """A clinic-like scenario whose range crosses the March daylight-saving changes."""
    rng = random.Random(seed)
    start = dt.date(2026, 3, 20)
    end = start + dt.timedelta(days=days - 1)
    now = dt.datetime(2026, 3, 19, 8, 0, tzinfo=dt.UTC)
    staff = []
    for i in range(staff_count):
        weekly = {}
        for day in ["mon", "tue", "wed", "thu", "fri", "sat"][: rng.choice([5, 5, 6])]:
            begin = rng.choice(["07:30", "08:00", "08:10", "09:00"])
            weekly[day] = [[begin, "12:00"], ["12:45", rng.choice(["17:00", "18:00", "19:30"])]]
        overrides = []
        for _ in range(max(1, days // 10)):
            override_day = start + dt.timedelta(days=rng.randrange(days))
            overrides.append(
                {
                    "date": override_day.isoformat(),
                    "intervals": [] if rng.random() < 0.5 else [["10:00", "14:00"]],
                }
            )
        busy = []
        for d in range(days + 1):
            base = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(6, 0), dt.UTC)
            for _ in range(rng.randint(3, 8)):
                s = base + dt.timedelta(minutes=rng.randrange(0, 14 * 60, 5))
                e = s + dt.timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))
                busy.append([s.strftime("%Y-%m-%dT%H:%M:%SZ"), e.strftime("%Y-%m-%dT%H:%M:%SZ")])
        staff.append(
            {
                "id": f"s{i + 1}",
                "timezone": ZONES[i % len(ZONES)],
                "weekly": weekly,
                "overrides": overrides,
                "busy": busy,
            }
        )
    return {
        "format": sc.FORMAT,
        "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "range": {"start": start.isoformat(), "end": end.isoformat()},
        "service": {
            "duration_min": 30,
            "buffer_before_min": 5,
            "buffer_after_min": 10,
            "slot_interval_min": 15,
            "min_notice_min": 120,
            "max_advance_days": 90,
        },
        "staff": staff,
    }


def measure(data: dict, repeat: int = 7) -> tuple[float, int, list]:
    scenario = sc.parse(data)
    best = float("inf")
    slots: list = []
    for _ in range(repeat):
        t = time.perf_counter()
        slots = available_slots(
            scenario.staff,
            scenario.service,
            now=scenario.now,
            first=scenario.first,
            last=scenario.last,
        )
        best = min(best, time.perf_counter() - t)
    staff_slots = sum(len(s.staff) for s in slots)
    return best, staff_slots, slots


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.scenario:
        seconds, _, slots = measure(json.loads(args.scenario.read_text()))
        out = json.dumps(sc.output(slots), separators=(",", ":"))
        if args.out:
            args.out.write_text(out)
        else:
            print(out)
        print(f"compute time: {seconds * 1000:.2f} ms ({len(slots)} starts)", file=sys.stderr)
        return
    per_slot = {}
    for staff, days in [(1, 7), (20, 30), (50, 60)]:
        seconds, staff_slots, slots = measure(generate(staff, days))
        per_slot[(staff, days)] = seconds / max(staff_slots, 1)
        print(
            f"{staff:>2} staff x {days:>2} days: {seconds * 1000:7.2f} ms, "
            f"{len(slots):>6} starts, {staff_slots:>6} staff-slots, "
            f"{per_slot[(staff, days)] * 1e6:.2f} us per staff-slot"
        )
    ratio = per_slot[(50, 60)] / per_slot[(20, 30)]
    print(f"ratio of time per staff-slot, 50x60 to 20x30: {ratio:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
