"""Absolute session lifetime (P3). The idle timeout is the session's own expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from bookwell.accounts.session import AUTH_AT_KEY


def session_timeouts(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(AUTH_AT_KEY)
            if (
                not isinstance(started, int)
                or time.time() - started > settings.SESSION_ABSOLUTE_TIMEOUT
            ):
                logout(request)
                messages.info(request, "Your session ended. Please sign in again.")
        return get_response(request)

    return middleware
