"""Starting and ending authenticated sessions (P3)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest

from bookwell.accounts.models import User
from bookwell.accounts.services import signin_succeeded

AUTH_AT_KEY = "bookwell_auth_at"
MFA_PENDING_KEY = "bookwell_mfa_pending"


def start_authenticated_session(request: HttpRequest, user: User, *, network: str) -> None:
    # login() rotates the session key (no fixation) and stores the session auth hash; it also
    # moves last_login on, so the one before is taken first (the new-sign-in notice, P11).
    previous = user.last_login
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session[AUTH_AT_KEY] = int(time.time())
    signin_succeeded(user=user, network=network, previous_login=previous)
