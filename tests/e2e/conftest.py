"""Browser fixtures: one headless system Chromium per module, a fresh context per test.

There is no browser download here: Playwright drives Debian's Chromium. Without it the
browser tests are skipped with a reason locally, and fail under CI=true (CI must not
silently lose them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Reports Content-Security-Policy violations to Python; init scripts are exempt from the CSP.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__bookwellReportCsp(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""


def _chromium_path() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires the browser tests to run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed (/usr/bin/chromium or `chromium` on PATH)")
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django then
    # refuses ORM calls from it (seeding, the transactional flush at teardown). Allow them only
    # while the browser lives: set for the whole process (module level), the variable leaks
    # into every later test and subprocess, and `check --deploy` rightly fails on it (async.E001).
    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageProblems:
    """What the page complained about: console errors, uncaught exceptions, CSP violations."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [
            *(f"console error: {m}" for m in self.console_errors),
            *(f"uncaught exception: {m}" for m in self.page_errors),
            *(f"CSP violation: {m}" for m in self.csp_violations),
        ]


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


# A phone-sized screen (the public booking page is used on phones first).
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}


def new_context(browser: Browser, page_problems: PageProblems, **options: Any) -> BrowserContext:
    """A fresh browser profile that reports CSP violations to `page_problems`."""
    context = browser.new_context(locale="en-GB", accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.expose_function(
        "__bookwellReportCsp", lambda message: page_problems.csp_violations.append(message)
    )
    context.add_init_script(CSP_LISTENER)
    return context


def watch(page: Page, page_problems: PageProblems) -> Page:
    """Records the page's console errors and uncaught exceptions in `page_problems`."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url") or "?"
            page_problems.console_errors.append(f"{message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_problems.page_errors.append(str(error)))
    return page


@pytest.fixture
def context(browser: Browser, page_problems: PageProblems) -> Iterator[BrowserContext]:
    context = new_context(browser, page_problems, **DESKTOP)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext, page_problems: PageProblems) -> Page:
    return watch(context.new_page(), page_problems)
