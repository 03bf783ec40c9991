"""Makes the request at hand known to `audit_record` (where it came from, its request id),
so the services that record events need not pass it through every call."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

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


def request_context(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        request.request_id = secrets.token_hex(8)  # type: ignore[attr-defined]
        token = current_request.set(request)
        try:
            response = get_response(request)
            # Outside the view's transaction, which a refusal rolls back.
            if getattr(request, "audit_denial", None):
                from bookwell.audit.services import record_denial

                record_denial(request)
            return response
        finally:
            current_request.reset(token)

    return middleware
