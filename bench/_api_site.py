"""Settings and URLs for bench/api_load.py: Bookwell as it is, plus the two baselines the
API is measured against (a bare view doing one INSERT; one returning 100 rows of a plain
table as JSON), served by the same `bookwell serve` in the same run. Never deployed."""

from bookwell.settings import *  # noqa: F403

ROOT_URLCONF = "_api_urls"
