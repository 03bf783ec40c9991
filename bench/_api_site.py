"""Settings and URLs for bench/api_load.py: Bookwell as it is, plus the two baselines the
API is measured against (a bare view doing one INSERT; one returning 100 rows of a plain
table as JSON), served by the same `bookwell serve` in the same run. Never deployed."""

from bookwell.settings import *  # noqa: F403

ROOT_URLCONF = "_api_urls"

# A paying clinic's plan, its allowances counted and checked as on any plan (P9), with room
# for every booking a fast machine makes in the run (the standard plan's 10 000 a month ran
# out on this one within a few runs of the harness).
PLANS = {
    **PLANS,  # noqa: F405
    "bench": {
        **PLANS["standard"],  # noqa: F405
        "name": "Bench",
        "bookings_per_month": 10_000_000,
        "api_calls_per_day": 10_000_000,
    },
}
