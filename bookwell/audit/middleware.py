"""Makes the request at hand known to `audit_record` (where it came from, its request id),
so the services that record events need not pass it through every call."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from bookwell.core.logformat import log_context
from bookwell.core.net import from_trusted_proxy

current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


@contextmanager
def same_request(request: HttpRequest) -> Iterator[None]:
    """For work a response does after its view has returned (a streamed page): its events
    still name who asked and from where."""
    token = current_request.set(request)
    try:
        yield
    finally:
        current_request.reset(token)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def _request_id(request: HttpRequest) -> str:
    """The id nginx gave the request (X-Request-ID, trusted from the proxy only), so its access
    log and ours name the same request; else a new one."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    if given and _REQUEST_ID.match(given) and from_trusted_proxy(request):
        return given
    return secrets.token_hex(8)


def request_context(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        request.request_id = _request_id(request)  # type: ignore[attr-defined]
        token = current_request.set(request)
        try:
            with log_context(request.request_id):  # type: ignore[attr-defined]
                response = get_response(request)
                # Outside the view's transaction, which a refusal rolls back.
                if getattr(request, "audit_denial", None):
                    from bookwell.audit.services import record_denial

                    record_denial(request)
            response.headers["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
            return response
        finally:
            current_request.reset(token)

    return middleware
