"""The REST API, version 1: one NinjaAPI, one router per app, problem+json errors.

Served at /api/v1/ with its OpenAPI document (/api/v1/openapi.json) and a documentation page
(/api/v1/docs, Swagger UI from the django-ninja package: no CDN). Clinics authenticate with
API tokens (integrations); sessions and cookies play no part, so there is no CSRF to check.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

from bookwell.integrations import problems
from bookwell.integrations.auth import TokenAuth


class BookwellAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Errors are documented as application/problem+json, the type they are sent with."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content") or {}
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {problems.CONTENT_TYPE: content["application/json"]}
        return schema


DESCRIPTION = """
Everything a clinic automates: its catalogue and hours, clients, appointments, availability.

Authenticate with an API token made in the clinic's settings (Settings → API tokens):
`Authorization: Bearer bw_…`. Each operation needs one scope (`x-scope`). Errors are
`application/problem+json` with a stable `code`. Lists are paged with `cursor`/`limit`; where
rows carry `updated_at`, `updated_since` gives what changed since then, for incremental sync.
"""

api = BookwellAPI(
    title="Bookwell API",
    version="1",
    description=DESCRIPTION.strip(),
    urls_namespace="api-v1",
    auth=TokenAuth(),
)
problems.install(api)


def _routers() -> None:
    from bookwell.bookings.api import router as bookings
    from bookwell.clients.api import router as clients
    from bookwell.privacy.api import router as privacy
    from bookwell.scheduling.api import router as scheduling
    from bookwell.tenancy.api import router as tenancy

    api.add_router("", tenancy)
    api.add_router("", scheduling)
    api.add_router("", clients)
    api.add_router("", privacy)
    api.add_router("", bookings)


_routers()
