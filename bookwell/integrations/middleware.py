"""Everything under /api/ answers problem+json, also where Django answers before the API
runs: an unknown path (404), a method the path does not take (405), a body over the API's
limit (413) or not JSON (415)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from bookwell.integrations.problems import CONTENT_TYPE, problem

CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def api_problems(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return get_response(request)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.API_MAX_BODY_BYTES:
            return problem(
                413,
                "body_too_large",
                f"Send at most {settings.API_MAX_BODY_BYTES // 1024} KB in one request.",
            )
        if declared and request.method in ("POST", "PUT", "PATCH"):
            kind = request.content_type or ""
            if kind != "application/json" and not kind.endswith("+json"):
                return problem(415, "unsupported_media_type", "Send the body as application/json.")
        response = get_response(request)
        if response.status_code in CODES and response.get("Content-Type") != CONTENT_TYPE:
            replaced = problem(response.status_code, CODES[response.status_code])
            if response.has_header("Allow"):
                replaced["Allow"] = response["Allow"]
            return replaced
        return response

    return middleware
