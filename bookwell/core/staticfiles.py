"""Static file storages that remember the URLs they hand out.

Every page links its stylesheets and scripts with `{% static %}`; working a URL out again
each time cost about 30 µs per link, a tenth of the staff calendar's page chrome
(bench/http_load.py). A file's URL is fixed for the life of the process (the manifest of
hashed names is read once at start), so each is worked out once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class _RememberedUrls:
    _urls: dict[str, str]

    def url(self, name: Any, *args: Any, **kwargs: Any) -> str:
        if args or kwargs or not isinstance(name, str):  # e.g. force=True: as asked
            return super().url(name, *args, **kwargs)  # type: ignore[misc]
        urls = self.__dict__.setdefault("_urls", {})
        found = urls.get(name)
        if found is None:
            # A name missing from the manifest raises here, and is not remembered.
            found = urls[name] = super().url(name)  # type: ignore[misc]
        return found


class DevStorage(_RememberedUrls, StaticFilesStorage):
    """Files served as they are (development, tests)."""


class ProductionStorage(_RememberedUrls, CompressedManifestStaticFilesStorage):
    """Hashed, compressed files (collectstatic); whitenoise serves them."""
