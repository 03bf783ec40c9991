"""Errors services raise; views turn them into form errors, API endpoints into problem+json."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request with a message fit for the user and a stable code."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class Gone(ServiceError):
    code = "gone"
    status = 410
