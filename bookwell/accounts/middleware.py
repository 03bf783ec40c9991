"""Absolute session lifetime (P3). The idle timeout is the session's own expiry, moved on by
activity at most once a minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from bookwell.accounts.session import AUTH_AT_KEY

SESSION_ENDED_ATTR = "bookwell_session_ended"
SEEN_KEY = "_bookwell_seen"


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
                setattr(request, SESSION_ENDED_ATTR, True)
            else:
                now = int(time.time())
                seen = request.session.get(SEEN_KEY)
                if not isinstance(seen, int) or now - seen >= settings.SESSION_REFRESH_EVERY:
                    request.session[SEEN_KEY] = now  # saved with a fresh idle expiry
        return get_response(request)

    def process_view(request: HttpRequest, *args: Any) -> None:
        # This middleware runs before MessageMiddleware (it must sign out before anything else
        # sees the user), so the notice is added here, once the message store exists.
        if getattr(request, SESSION_ENDED_ATTR, False):
            messages.info(request, _("Your session ended. Please sign in again."))

    middleware.process_view = process_view  # type: ignore[attr-defined]
    return middleware
