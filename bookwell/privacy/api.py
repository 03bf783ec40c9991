"""API: clients' rights (P17) — requests with their due dates, the client's copy, restriction
and erasure. Carrying a right out takes the admin scope, as on the staff pages only owners and
admins may; recording and reading requests take the clients scopes."""

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from bookwell.clients.models import Client
from bookwell.core.access import access_in_clinic
from bookwell.integrations.auth import endpoint
from bookwell.integrations.pagination import page
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import PageOf
from bookwell.integrations.scopes import Scope
from bookwell.privacy import services
from bookwell.privacy.models import RequestKind, RequestSource, RequestStatus, SubjectRequest
from bookwell.privacy.schemas import (
    CopyOut,
    ErasedOut,
    EraseIn,
    LiftIn,
    RequestClose,
    RequestIn,
    RequestOut,
    RequestQuery,
    RestrictionOut,
)

router = Router(tags=["privacy"])


@endpoint(router.get, "/privacy-requests", scope=Scope.CLIENTS_READ, response=PageOf[RequestOut])
def requests_list(request: HttpRequest, q: Query[RequestQuery]) -> dict[str, Any]:
    """Clients' requests about their data, by status or client."""
    qs = SubjectRequest.objects.all()
    if q.status is not None:
        qs = qs.filter(status=q.status)
    if q.client is not None:
        qs = qs.filter(client=access_in_clinic(Client, q.client))
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit, updated_since=q.updated_since)
    return {"items": items, "next_cursor": cursor}


@endpoint(
    router.post,
    "/clients/{client_id}/privacy-requests",
    scope=Scope.CLIENTS_WRITE,
    response={201: RequestOut},
)
def request_add(
    request: HttpRequest, client_id: uuid.UUID, body: RequestIn
) -> Status[SubjectRequest]:
    """Records a client's request (access, rectification, erasure, restriction, portability);
    due a month after it came in."""
    client = access_in_clinic(Client, client_id)
    made = services.subject_request_record(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        kind=body.kind,
        received_on=body.received_on,
        source=RequestSource.API,
    )
    return Status(201, made)


@endpoint(
    router.post,
    "/privacy-requests/{request_id}/close",
    scope=Scope.CLIENTS_WRITE,
    response=RequestOut,
)
def request_close(request: HttpRequest, request_id: uuid.UUID, body: RequestClose) -> Any:
    """Marks a request answered (done) or withdrawn; a closed one is a 409."""
    if body.status == RequestStatus.OPEN:
        raise ApiError(422, "bad_status", "Close a request as done or withdrawn.")
    subject = access_in_clinic(SubjectRequest, request_id)
    return services.subject_request_close(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        request=subject,
        status=body.status,
    )


@endpoint(router.get, "/clients/{client_id}/copy", scope=Scope.ADMIN, response=CopyOut)
def client_copy(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """Everything the clinic holds about the client, as JSON (access and portability)."""
    client = access_in_clinic(Client, client_id)
    body, media = services.client_copy_download(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        fmt="json",
        via="api",
    )
    response = HttpResponse(body, content_type=media)
    response["Cache-Control"] = "no-store"
    return response


@endpoint(router.post, "/clients/{client_id}/restrict", scope=Scope.ADMIN, response=RestrictionOut)
def client_restrict(request: HttpRequest, client_id: uuid.UUID) -> dict[str, Any]:
    """Restricts processing: read-only, no bookings, no messages; answers an open request."""
    client = access_in_clinic(Client, client_id)
    services.client_restrict(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        request=services.open_request(client, RequestKind.RESTRICTION),
    )
    return {"client_id": str(client.pk), "restricted": True}


@endpoint(router.post, "/clients/{client_id}/lift", scope=Scope.ADMIN, response=RestrictionOut)
def client_lift(request: HttpRequest, client_id: uuid.UUID, body: LiftIn) -> dict[str, Any]:
    """Lifts a restriction, once the client was told (client_told must be true)."""
    client = access_in_clinic(Client, client_id)
    services.client_unrestrict(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        client_told=body.client_told,
    )
    return {"client_id": str(client.pk), "restricted": False}


@endpoint(router.post, "/clients/{client_id}/erase", scope=Scope.ADMIN, response=ErasedOut)
def client_erase(request: HttpRequest, client_id: uuid.UUID, body: EraseIn) -> dict[str, Any]:
    """Erases the client's data; appointments stay without them. Answers an open request."""
    if not body.confirm:
        raise ApiError(422, "not_confirmed", "Send confirm: true to erase.")
    client = access_in_clinic(Client, client_id)
    rows = services.client_erase(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        request=services.open_request(client, RequestKind.ERASURE),
    )
    return {"rows": rows}
