from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def proxy_headers_from_proxies_only(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """X-Forwarded-Proto counts only from BOOKWELL_TRUSTED_PROXIES (as X-Forwarded-For and
    X-Request-ID do): from anyone else it is dropped before Django reads it."""
    from bookwell.core.net import from_trusted_proxy

    def middleware(request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return get_response(request)

    return middleware


def request_metrics(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Request latency by route name (the URL pattern's name, never the path with its ids),
    method and status class (bookwell.core.metrics)."""
    from bookwell.core.metrics import REQUEST_SECONDS, status_class

    methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

    def middleware(request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = get_response(request)
        match = request.resolver_match
        route = (match.view_name or "unnamed") if match is not None else "unmatched"
        method = request.method if request.method in methods else "other"
        REQUEST_SECONDS.labels(route, method, status_class(response.status_code)).observe(
            time.perf_counter() - start
        )
        return response

    return middleware


def security_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Headers Django does not set itself: Permissions-Policy (CSP and the rest are Django's)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response

    return middleware


def request_size_limit(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Refuses bodies over MAX_REQUEST_BYTES before anything reads or spools them (413)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.MAX_REQUEST_BYTES:
            limit_mb = settings.MAX_REQUEST_BYTES // (1024 * 1024)
            return HttpResponse(
                f"The request is too large (the limit is {limit_mb} MB).",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware


def drop_empty_sessions(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Ends a session left with nothing in it, so its cookie is deleted (P19).

    A signed-out visitor's session exists only to carry a one-time notice; once the notice
    has been shown the session is empty, and the browser should not keep a cookie for it.
    Listed right after SessionMiddleware, so it sees the session after messages are consumed.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.session_key
            and not session.keys()
            and settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            session.flush()
        return response

    return middleware
