"""API shapes for client records."""

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field, StrictBool

from bookwell.clients.models import ConsentMethod, NameKind
from bookwell.integrations.schemas import BodyId, Input, Moment


class ClientOut(Schema):
    id: uuid.UUID
    full_name: str
    name_kind: NameKind
    email: str
    phone: str = Field(description="E.164, e.g. +4930123456.")
    date_of_birth: str
    preferred_language: str
    note: str
    marketing_consent: bool
    sms_opt_out: bool
    restricted: bool = Field(description="Processing restricted: read-only, no bookings.")
    created_at: dt.datetime
    updated_at: dt.datetime


class ClientIn(Input):
    full_name: str = Field(..., min_length=1, max_length=200)
    name_kind: NameKind = NameKind.FULL
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    date_of_birth: str = Field("", max_length=10, description="YYYY-MM-DD, if the clinic asks.")
    preferred_language: str = Field("en", max_length=8)
    note: str = Field("", max_length=2000)
    marketing_consent: StrictBool = False


class ClientPatch(Input):
    """Only the fields sent change."""

    full_name: str | None = Field(None, min_length=1, max_length=200)
    name_kind: NameKind | None = None
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    date_of_birth: str | None = Field(None, max_length=10)
    preferred_language: str | None = Field(None, max_length=8)
    note: str | None = Field(None, max_length=2000)
    marketing_consent: StrictBool | None = None


class ClientListQuery(Schema):
    q: str | None = Field(
        None,
        max_length=200,
        description="Search: a whole email address, a phone number, or the start of name "
        "words. Returns the best `limit` matches, newest first, on one page.",
    )
    updated_since: Moment | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class NoticeOut(Schema):
    id: int
    version: int
    effective_at: dt.datetime
    body: str


class ConsentOut(Schema):
    id: int
    client_id: uuid.UUID | None
    notice_id: int
    given_at: dt.datetime
    method: ConsentMethod


class ConsentIn(Input):
    notice: BodyId = Field(
        ..., description="The notice version the client agreed to (the current one)."
    )


class ConsentQuery(Schema):
    client: uuid.UUID | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)
