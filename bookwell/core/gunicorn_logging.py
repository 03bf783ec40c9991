"""gunicorn's access log, without secrets (P7).

Reset and invitation links carry single-use tokens in their paths; whoever reads the log must
not be able to use them. Paths are logged with those segments masked, and no query string,
referrer or client address is logged at all (see the log format in `bookwell serve`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

MASK = "***"
_TOKEN_ROUTES = [
    re.compile(r"^(/password/reset/)[^/]+/[^/]+/"),
    re.compile(r"^(/invite/)[^/]+/"),
]
_LONG_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_-]{32,}(?=/|\.[a-z]{2,4}$|$)")


def scrub_path(path: str) -> str:
    for route in _TOKEN_ROUTES:
        match = route.match(path)
        if match:
            rest = path[match.end() :]
            slashes = match.group(0).count("/") - match.group(1).count("/")
            return match.group(1) + f"{MASK}/" * slashes + rest
    # Anything else that looks like a secret (long random segment) is masked too.
    return _LONG_SEGMENT.sub(MASK, path)


class ScrubbingLogger(Logger):
    """gunicorn's own lines (its error log and the access log) in Bookwell's format (JSON by
    default), through the same scrubber; the access line carries the request id the app gave
    the request (its X-Request-ID response header)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from django.conf import settings

        from bookwell.core.logformat import JsonLines, PlainWithFields, Scrubber

        if settings.LOG_FORMAT == "json":
            formatter: logging.Formatter = JsonLines()
        else:
            formatter = PlainWithFields("%(asctime)s %(levelname)s %(name)s %(message)s")
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                handler.addFilter(Scrubber())

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "method": atoms.get("m", "-"),
            "path": atoms.get("U", "-"),
            "status": _number(atoms.get("s")),
            "bytes": _number(atoms.get("B")),
            "duration_ms": atoms.get("M", 0),
            "request_id": _response_header(resp, "x-request-id") or "-",
        }
        self.access_log.info("request", extra=fields)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = scrub_path(str(atoms.get("U", "")))
        atoms["r"] = f"{atoms.get('m', '-')} {atoms['U']} {atoms.get('H', '-')}"
        for key in ("q", "f", "h", "a"):
            atoms[key] = "-"
        return atoms


def _response_header(resp: Any, name: str) -> str:
    for key, value in getattr(resp, "headers", None) or []:
        if str(key).lower() == name:
            return str(value)
    return ""


def _number(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
