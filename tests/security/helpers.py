from __future__ import annotations

from typing import Any

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from bookwell.core.context import platform_scope

# Bookkeeping that legitimately changes on any request, even a refused one.
# Records of the request itself, not data it changed: sessions, sign-in attempts and the audit
# trail (a refusal is recorded there on purpose; test_role_matrix checks that it is, once).
VOLATILE_MODELS = {
    "sessions.Session",
    "accounts.SignInAttempt",
    "audit.AuditEvent",
    "audit.ChainHead",
    "audit.IpHashKey",
    "audit.SecuritySighting",
    # Usage counts (P8): a successful read through the API is counted.
    "telemetry.UsageDay",
    "telemetry.UsageMonth",
    # Plan counters (P9): a successful call or booking counts itself in.
    "tenancy.PlanUsage",
}


def url_patterns() -> list[tuple[str, URLPattern]]:
    """(qualified name, pattern) for every named route of the project."""
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns: list[Any], namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or ""
                walk(p.url_patterns, f"{namespace}{ns}:" if ns else namespace)
            elif isinstance(p, URLPattern) and p.name:
                found.append((f"{namespace}{p.name}", p))

    walk(get_resolver().url_patterns, "")
    return found


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Bookwell model, to prove that a refused request changed nothing."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    with platform_scope("test snapshot of all rows"):
        for model in apps.get_models():
            label = model._meta.label
            if label in VOLATILE_MODELS or not model.__module__.startswith("bookwell."):
                continue
            rows = model._base_manager.order_by("pk").values_list()
            state[label] = [tuple(r) for r in rows]
    return state
