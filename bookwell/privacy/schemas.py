"""API shapes for clients' rights (P17)."""

import datetime as dt
import uuid
from typing import Any

from ninja import Schema
from pydantic import Field, StrictBool

from bookwell.integrations.schemas import Day, Input, Moment
from bookwell.privacy.models import RequestKind, RequestSource, RequestStatus


class RequestOut(Schema):
    id: uuid.UUID
    client_id: uuid.UUID | None = Field(description="Empty once the client's data is erased.")
    kind: RequestKind
    status: RequestStatus
    source: RequestSource
    received_on: dt.date
    due_on: dt.date = Field(description="A month after it came in.")
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RequestIn(Input):
    kind: RequestKind
    received_on: Day | None = Field(None, description="When it came in; today if left out.")


class RequestClose(Input):
    status: RequestStatus = Field(
        RequestStatus.DONE, description="done (answered) or withdrawn (by the client)."
    )


class RequestQuery(Schema):
    status: RequestStatus | None = None
    client: uuid.UUID | None = None
    updated_since: Moment | None = Field(
        None, description="Only what changed at or after this moment (incremental sync)."
    )
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class CopyOut(Schema):
    """Everything the clinic holds about the client, entity by entity."""

    schema_version: int = Field(description="The layout of this document (1).")
    clinic: dict[str, Any]
    generated_at: dt.datetime
    data: dict[str, list[dict[str, Any]]]


class LiftIn(Input):
    client_told: StrictBool = Field(
        ..., description="That the client was told before the restriction is lifted (true)."
    )


class EraseIn(Input):
    confirm: StrictBool = Field(..., description="true: the erasure cannot be undone.")


class RestrictionOut(Schema):
    client_id: uuid.UUID
    restricted: bool


class ErasedOut(Schema):
    rows: dict[str, int] = Field(description="Rows deleted or emptied, by kind.")
