"""The API's documentation page works in a real browser under the site's CSP: the Swagger UI
from the django-ninja package (no CDN) lists every operation, and sets no cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from bookwell.api import api

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page
    from pytest_django.live_server_helper import LiveServer

    from tests.e2e.conftest import PageProblems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_lists_every_operation(
    live_server: LiveServer, context: BrowserContext, page: Page, page_problems: PageProblems
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert response is not None and response.ok
    operations = page.locator(".opblock")
    doc = api.get_openapi_schema()
    count = sum(len(item) for item in doc["paths"].values())
    expect(operations).to_have_count(count, timeout=15_000)
    expect(page.get_by_text("Bookwell API").first).to_be_visible()
    assert all(url.startswith(live_server.url) for url in requested), requested
    assert context.cookies() == []
    assert page_problems.all() == []
