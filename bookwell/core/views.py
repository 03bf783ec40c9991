from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_safe


def landing(request: HttpRequest) -> HttpResponse:
    # No session or CSRF use here: the landing page sets no cookie (P19).
    return render(request, "core/landing.html")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "core/csrf_failure.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


@require_safe
@transaction.non_atomic_requests  # liveness never opens a transaction (nor the database)
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers (no database). Also the bare baseline of bench/http_load."""
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@require_safe
@transaction.non_atomic_requests
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database, the migrations, a worker (and Redis when configured)
    are all right, else 503; each check is named with its state."""
    from bookwell.core.health import readiness

    state = readiness()
    response = JsonResponse(
        {"status": "ready" if state.ready else "not ready", "checks": state.checks},
        status=200 if state.ready else 503,
        headers={"Cache-Control": "no-store"},
    )
    # A 503 here is an answer, not a crash: not logged as a server error at every probe.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect("/static/img/favicon.svg", permanent=True)


@require_GET
@transaction.non_atomic_requests
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the operator's scraper only (a token, or an allowed network);
    anyone else gets 404, as if there were nothing here."""
    from bookwell.core.metrics import exposition

    if not _may_scrape(request):
        raise Http404("No such page")
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _may_scrape(request: HttpRequest) -> bool:
    import hmac

    from django.conf import settings

    from bookwell.core.net import client_ip, in_networks

    header = request.META.get("HTTP_AUTHORIZATION", "")
    if settings.METRICS_TOKEN and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].encode(), settings.METRICS_TOKEN.encode())
    return in_networks(client_ip(request), settings.METRICS_ALLOWED_NETWORKS)
