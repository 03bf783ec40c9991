"""URLs for bench/api_load.py: Bookwell's, plus the two baselines (see _api_site)."""

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

PLAIN_TABLE = "bench_plain"


@csrf_exempt
def insert_one(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PLAIN_TABLE} (label, created_at) VALUES (%s, %s)",
            ["row", timezone.now()],
        )
    return JsonResponse({"ok": True}, status=201)


def hundred_rows(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, label, created_at FROM {PLAIN_TABLE} ORDER BY id LIMIT 100")
        rows: list[dict[str, Any]] = [
            {"id": i, "label": label, "created_at": at.isoformat() if at else None}
            for i, label, at in cursor.fetchall()
        ]
    return JsonResponse({"items": rows})


urlpatterns = [
    path("bench/insert", insert_one),
    path("bench/rows", hundred_rows),
    path("", include("bookwell.urls")),
]
