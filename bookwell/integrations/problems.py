"""Every API error is RFC 9457 problem+json with a stable `code` (never an HTML page).

The body names what went wrong, never echoes what was sent: a validation error lists where
(`loc`) and what kind (`type`), not the refused value, which may be someone's email (P7)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from bookwell.core.errors import ServiceError

logger = logging.getLogger("bookwell.api")

CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Server error",
}


class ApiError(Exception):
    """An error an endpoint answers with (status, stable code, a sentence for people)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem(status: int, code: str, detail: str = "", **extra: Any) -> HttpResponse:
    body = {
        "type": f"urn:bookwell:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail or TITLES.get(status, "Error"),
        **extra,
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="bookwell"'
    if "retry_after" in extra:
        response["Retry-After"] = str(extra["retry_after"])
    return response


def _errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "type": str(err.get("type", "invalid")), "msg": err.get("msg", "")})
    return out


def install(api: NinjaAPI) -> None:
    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return problem(
            422,
            "validation_failed",
            "Some fields are missing or invalid.",
            errors=_errors(exc.errors),
        )

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return problem(exc.status, exc.code, exc.detail, **exc.extra)

    def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
        status = 422 if exc.status == 400 else exc.status
        return problem(status, exc.code, exc.message, **getattr(exc, "problem_extra", {}))

    def on_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        errors = []
        if hasattr(exc, "error_dict"):
            for field, items in exc.error_dict.items():
                for item in items:
                    errors.append(
                        {
                            "loc": ["body", field],
                            "type": item.code or "invalid",
                            "msg": " ".join(item.messages),
                        }
                    )
        else:
            errors = [{"loc": ["body"], "type": "invalid", "msg": m} for m in exc.messages]
        return problem(422, "validation_failed", "Some fields are invalid.", errors=errors)

    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(
            401, "unauthenticated", "Send a valid API token: Authorization: Bearer <token>."
        )

    def on_forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem(403, "forbidden", "This token may not do that.")

    def on_404(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem(404, "not_found", "There is no such object in this clinic.")

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        if status == 400:  # django-ninja's only 400: a body that is not JSON
            return problem(400, "malformed_body", "The request body is not valid JSON.")
        code = {405: "method_not_allowed", 429: "rate_limited"}.get(status, "error")
        return problem(status, code, TITLES.get(status, "Error"))

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc, RequestDataTooBig):  # a body without a length, over the limit
            return problem(413, "body_too_large", "The request body is too large.")
        # The class only: a traceback or message could carry personal data (P7).
        logger.error("api error", extra={"error": type(exc).__name__})
        return problem(500, "server_error", "Something went wrong on our side.")

    def add(exc_class: type[Exception], handler: Any) -> None:
        def answer(request: HttpRequest, exc: Any) -> HttpResponse:
            if connection.in_atomic_block:
                # The operation's transaction (ATOMIC_REQUESTS) ends without an exception
                # once the error is an answer: roll back whatever it wrote before failing.
                transaction.set_rollback(True)
            return handler(request, exc)

        api.add_exception_handler(exc_class, answer)

    add(ValidationError, on_validation)
    add(ApiError, on_api_error)
    add(ServiceError, on_service_error)
    add(DjangoValidationError, on_django_validation)
    add(AuthenticationError, on_auth)
    add(AuthorizationError, on_forbidden)
    add(PermissionDenied, on_forbidden)
    add(Http404, on_404)
    add(HttpError, on_http_error)
    add(Exception, on_unexpected)
