"""API test helpers: a token for a clinic, and a client that sends it."""

from __future__ import annotations

from typing import Any

from django.test import Client

from bookwell.core.context import clinic_context
from bookwell.integrations.scopes import Scope
from bookwell.integrations.services import api_token_create
from bookwell.tenancy.models import Clinic

ALL_SCOPES = [s.value for s in Scope]


def token_for(clinic: Clinic, scopes: list[str] | None = None, **kw: Any) -> str:
    with clinic_context(clinic):
        _token, secret = api_token_create(
            clinic=clinic, name="Test integration", scopes=scopes or ALL_SCOPES, **kw
        )
    return secret


class ApiClient:
    """JSON in, JSON out, with the bearer token (and no cookies)."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, headers={**self.headers, **headers})

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.put(
            f"/api/v1{path}",
            body if body is not None else {},
            content_type="application/json",
            headers={**self.headers, **headers},
        )

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers={**self.headers, **headers})

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.patch(
            f"/api/v1{path}",
            body if body is not None else {},
            content_type="application/json",
            headers={**self.headers, **headers},
        )

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            body if body is not None else {},
            content_type="application/json",
            headers={**self.headers, **headers},
        )
