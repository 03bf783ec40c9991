"""Who is calling the API (a clinic's token), what it may do (its scopes), how often.

`endpoint()` declares an operation: the scope it needs (also written into the OpenAPI
document as `x-scope`, which the scope suite reads), and it runs the operation inside the
token's clinic (P1) and in that clinic's time zone.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Status
from ninja.params.models import Header
from ninja.params.models import Query as QueryParam
from ninja.security import HttpBearer

from bookwell.audit.models import ActorKind
from bookwell.audit.services import Actor, deny_later, token_refused_later
from bookwell.core import ratelimit
from bookwell.core.context import clinic_context
from bookwell.integrations.models import ApiToken
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import Input, Problem
from bookwell.integrations.scopes import Scope, effective
from bookwell.integrations.services import Refusal, api_token_find
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import counts_only_commit
from bookwell.tenancy.models import Allowance
from bookwell.tenancy.plans import PendingUse, plan_use

# The usage counter (P8) each scope's calls are counted under.
API_USAGE = {
    Scope.APPOINTMENTS_READ: Feature.API_APPOINTMENTS,
    Scope.APPOINTMENTS_WRITE: Feature.API_APPOINTMENTS,
    Scope.CLIENTS_READ: Feature.API_CLIENTS,
    Scope.CLIENTS_WRITE: Feature.API_CLIENTS,
    Scope.SCHEDULE_READ: Feature.API_SCHEDULE,
    Scope.SCHEDULE_WRITE: Feature.API_SCHEDULE,
    Scope.ADMIN: Feature.API_ADMIN,
}

# What any operation may answer besides success (each as problem+json): bad input, no or a
# bad token, a missing scope, another clinic's or no such object, a conflict, too many.
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer bw_…`; a session cookie is never enough for the API."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        refusal = Refusal()
        found = api_token_find(token.strip(), refusal)
        if found is None:
            known = refusal.token
            token_refused_later(
                request,
                reason=refusal.reason,
                clinic_id=known.clinic_id if known else None,
                token_id=known.pk if known else None,
            )
            return None
        wait = ratelimit.hit(
            "api", f"token:{found.pk}", limit=settings.API_RATE_PER_MINUTE, window_s=60
        )
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                "This token made too many requests; wait and try again.",
                retry_after=wait,
            )
        return found


def _query_names(view: Callable[..., Any]) -> set[str]:
    """The query parameters an operation declares (its `Query[Model]` argument's fields)."""
    names: set[str] = set()
    for param in inspect.signature(view).parameters.values():
        for arg in typing.get_args(param.annotation):
            fields = getattr(arg, "model_fields", None)
            if fields and any(isinstance(m, QueryParam) for m in typing.get_args(param.annotation)):
                names |= {f.alias or name for name, f in fields.items()}
    return names


def _evaluated(result: Any) -> Any:
    """Rows are read inside the clinic's context: the response is rendered after the view
    returns, when on PostgreSQL row-level security would no longer see the clinic (P1)."""
    if isinstance(result, QuerySet):
        return list(result)
    if isinstance(result, Status) and isinstance(result.value, QuerySet):
        return Status(result.status_code, list(result.value))
    if isinstance(result, dict) and isinstance(result.get("items"), QuerySet):
        return {**result, "items": list(result["items"])}
    return result


def _check_parameters(view: Callable[..., Any], path: str) -> None:
    """Query parameters come as one `Query[Model]` argument (the unknown-parameter check reads
    its fields); anything else must be the request, a path part, the body or a header."""
    for name, param in inspect.signature(view).parameters.items():
        extras = typing.get_args(param.annotation)[1:]
        is_body = isinstance(param.annotation, type) and issubclass(param.annotation, Input)
        if (
            name == "request"
            or "{" + name + "}" in path
            or is_body
            or any(isinstance(m, QueryParam | Header) for m in extras)
        ):
            continue
        raise TypeError(f"{view.__name__}: put {name!r} in a Query[Model] argument")


def endpoint(
    method: Callable[..., Callable[[Callable[..., Any]], Any]],
    path: str,
    *,
    scope: Scope,
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@endpoint(router.get, "/services", scope=Scope.SCHEDULE_READ, response=...)`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        known = _query_names(view)
        _check_parameters(view, path)

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kw: Any) -> Any:
            unknown = sorted(set(request.GET) - known)
            if unknown:  # a misspelt filter must not quietly return everything
                raise ApiError(
                    422,
                    "unknown_parameter",
                    "Unknown query parameter: " + ", ".join(repr(n[:40]) for n in unknown[:5]),
                )
            token: ApiToken = request.auth  # type: ignore[attr-defined]
            if scope not in effective(token.scopes):
                deny_later(
                    request,
                    actor=Actor(ActorKind.API_TOKEN, str(token.pk)),
                    clinic_id=token.clinic_id,
                    permission=scope.value,
                    route=view.__name__,
                )
                raise ApiError(
                    403, "scope_missing", f"This token lacks the {scope.value} scope.", scope=scope
                )
            clinic = token.clinic
            # The call is counted once it has succeeded, at the end (the counters' rows stay
            # locked to the commit): the plan's daily calls (P9; past them the call is
            # refused and rolled back) and this area of the API's usage (P8). An operation
            # whose last write can take the count along says so (`api_use`), saving a round
            # trip.
            use = PendingUse(Allowance.API_CALLS_PER_DAY, API_USAGE[scope])
            request.api_use = use  # type: ignore[attr-defined]
            with clinic_context(clinic), timezone.override(ZoneInfo(clinic.time_zone)):
                result = _evaluated(view(request, *args, **kw))
                if request.method in ("GET", "HEAD") and not getattr(
                    request, "audit_written", False
                ):
                    counts_only_commit()
                if not use.counted:
                    plan_use(clinic, use.allowance, feature=use.feature)
                return result

        kwargs.setdefault("operation_id", view.__name__)
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra["x-scope"] = scope.value
        success = kwargs.pop("response", None)
        responses: dict[int, Any] = dict(success) if isinstance(success, dict) else {200: success}
        for status in ERROR_STATUSES:
            responses.setdefault(status, Problem)
        return method(path, response=responses, openapi_extra=extra, **kwargs)(wrapped)

    return decorate
