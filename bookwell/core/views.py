from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render


def landing(request: HttpRequest) -> HttpResponse:
    # No session or CSRF use here: the landing page sets no cookie (P19).
    return render(request, "core/landing.html")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "core/csrf_failure.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


@transaction.non_atomic_requests  # liveness never opens a transaction (nor the database)
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers (no database). Also the bare baseline of bench/http_load."""
    return JsonResponse({"status": "ok"})


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect("/static/img/favicon.svg", permanent=True)
