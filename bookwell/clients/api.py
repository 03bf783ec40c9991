"""API: client records — list, search, read, create, update."""

import dataclasses
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from bookwell.clients.models import Client, ConsentMethod, ConsentRecord, PrivacyNotice
from bookwell.clients.schemas import (
    ClientIn,
    ClientListQuery,
    ClientOut,
    ClientPatch,
    ConsentIn,
    ConsentOut,
    ConsentQuery,
    NoticeOut,
)
from bookwell.clients.selectors import client_search
from bookwell.clients.services import (
    ClientInput,
    client_create,
    client_update,
    client_viewed,
    clients_listed,
    consent_record,
    privacy_notice_current,
)
from bookwell.core.access import access_in_clinic
from bookwell.integrations.auth import endpoint
from bookwell.integrations.pagination import page
from bookwell.integrations.problems import ApiError
from bookwell.integrations.schemas import PageOf, PageQuery
from bookwell.integrations.scopes import Scope

router = Router(tags=["clients"])


@endpoint(router.get, "/clients", scope=Scope.CLIENTS_READ, response=PageOf[ClientOut])
def clients_list(request: HttpRequest, q: Query[ClientListQuery]) -> dict[str, Any]:
    """Every client (paged, oldest change first), or a search by email, phone or name."""
    if q.q is not None:
        if q.cursor or q.updated_since:
            raise ApiError(422, "bad_filter", "Search with q alone (no cursor or updated_since).")
        found = list(client_search(clinic=request.auth.clinic, query=q.q)[: q.limit])  # type: ignore[attr-defined]
        clients_listed(clinic_id=request.auth.clinic.pk, via="api_search", rows=len(found))  # type: ignore[attr-defined]
        return {"items": found, "next_cursor": None}
    items, cursor = page(
        Client.objects.all(), cursor=q.cursor, limit=q.limit, updated_since=q.updated_since
    )
    rows = list(items)
    # Whole records, many at once: who read them is recorded like an export (P5).
    clients_listed(clinic_id=request.auth.clinic.pk, via="api_list", rows=len(rows))  # type: ignore[attr-defined]
    return {"items": rows, "next_cursor": cursor}


@endpoint(router.get, "/clients/{client_id}", scope=Scope.CLIENTS_READ, response=ClientOut)
def client_get(request: HttpRequest, client_id: uuid.UUID) -> Client:
    client = access_in_clinic(Client, client_id)
    client_viewed(client=client, via="api")
    return client


@endpoint(router.post, "/clients", scope=Scope.CLIENTS_WRITE, response={201: ClientOut})
def client_add(request: HttpRequest, body: ClientIn) -> Status[Client]:
    """A new client record (checked as on the staff page: contact formats, duplicates)."""
    data = ClientInput(**body.model_dump())
    return Status(201, client_create(clinic=request.auth.clinic, data=data))  # type: ignore[attr-defined]


@endpoint(router.patch, "/clients/{client_id}", scope=Scope.CLIENTS_WRITE, response=ClientOut)
def client_change(request: HttpRequest, client_id: uuid.UUID, body: ClientPatch) -> Client:
    """Changes the fields sent; a restricted record is read-only (409)."""
    client = access_in_clinic(Client, client_id)
    current = {f.name: getattr(client, f.name) for f in dataclasses.fields(ClientInput)}
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise ApiError(422, "null_field", "Leave a field out to keep it; null is not a value.")
    return client_update(
        clinic=request.auth.clinic,  # type: ignore[attr-defined]
        client=client,
        data=ClientInput(**{**current, **changes}),
    )


# --- Privacy notices and consent (P18) ------------------------------------------------------


@endpoint(router.get, "/privacy-notices", scope=Scope.CLIENTS_READ, response=PageOf[NoticeOut])
def notices_list(request: HttpRequest, q: Query[PageQuery]) -> dict[str, Any]:
    """Every version of the clinic's privacy notice, oldest first."""
    items, next_cursor = page(PrivacyNotice.objects.all(), cursor=q.cursor, limit=q.limit)
    return {"items": items, "next_cursor": next_cursor}


@endpoint(router.get, "/consents", scope=Scope.CLIENTS_READ, response=PageOf[ConsentOut])
def consents_list(request: HttpRequest, q: Query[ConsentQuery]) -> dict[str, Any]:
    """Consent records: who agreed to which notice version, when and how."""
    qs = ConsentRecord.objects.all()
    if q.client is not None:
        qs = qs.filter(client=access_in_clinic(Client, q.client))
    items, cursor = page(qs, cursor=q.cursor, limit=q.limit)
    return {"items": items, "next_cursor": cursor}


@endpoint(
    router.post,
    "/clients/{client_id}/consents",
    scope=Scope.CLIENTS_WRITE,
    response={201: ConsentOut},
)
def consent_add(request: HttpRequest, client_id: uuid.UUID, body: ConsentIn) -> Status[Any]:
    """Records that the client agreed to the current notice (an older version is a 409)."""
    clinic = request.auth.clinic  # type: ignore[attr-defined]
    client = access_in_clinic(Client, client_id)
    notice = access_in_clinic(PrivacyNotice, body.notice)
    current = privacy_notice_current(clinic=clinic)
    if current is None or current.pk != notice.pk:
        raise ApiError(409, "notice_outdated", "Consent is recorded to the current notice only.")
    record = consent_record(clinic=clinic, client=client, notice=notice, method=ConsentMethod.API)
    return Status(201, record)
