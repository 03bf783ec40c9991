"""gunicorn's access log, without secrets (P7).

Reset and invitation links carry single-use tokens in their paths; whoever reads the log must
not be able to use them. Paths are logged with those segments masked, and no query string,
referrer or client address is logged at all (see the log format in `bookwell serve`).
"""

from __future__ import annotations

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
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = scrub_path(str(atoms.get("U", "")))
        atoms["r"] = f"{atoms.get('m', '-')} {atoms['U']} {atoms.get('H', '-')}"
        for key in ("q", "f", "h", "a"):
            atoms[key] = "-"
        return atoms
