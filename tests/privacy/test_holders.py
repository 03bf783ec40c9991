"""The map of where a client's data lives (privacy.holders) covers every model: a new model
that refers to a client, holds a sealed field or hangs off a booking fails here until the copy
and the erasure know what to do with it (P17)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from bookwell.bookings.models import Appointment, WaitlistEntry, WaitlistOffer
from bookwell.clients.models import Client
from bookwell.core.context import clinic_context
from bookwell.payments.models import Payment
from bookwell.privacy.holders import HOLDERS, NOT_ABOUT_CLIENTS, Erase
from bookwell.tenancy.fields import EncryptedTextField

ABOUT_A_CLIENT = (Client, Appointment, WaitlistEntry, WaitlistOffer, Payment)


def _about_clients(model: type[models.Model]) -> bool:
    """A model that may hold something of a client's: it refers to one (or to their
    bookings and waitlist places), holds a sealed field, or holds JSON (where a client's id
    could sit)."""
    if model is Client:
        return True
    for field in model._meta.concrete_fields:
        if isinstance(field, EncryptedTextField | models.JSONField):
            return True
        if field.is_relation and field.related_model in ABOUT_A_CLIENT:
            return True
    return False


def test_every_model_about_clients_is_mapped():
    mapped = {h.model for h in HOLDERS}
    missing = [
        m._meta.label
        for m in apps.get_models()
        if _about_clients(m) and m not in mapped and m not in NOT_ABOUT_CLIENTS
    ]
    assert missing == []
    assert mapped.isdisjoint(NOT_ABOUT_CLIENTS)


@pytest.mark.parametrize("holder", HOLDERS, ids=lambda h: h.model.__name__)
def test_each_place_says_what_the_copy_and_the_erasure_do(holder):
    fields = {f.name: f for f in holder.model._meta.concrete_fields}
    sealed = {n for n, f in fields.items() if isinstance(f, EncryptedTextField)}
    client_links = {n for n, f in fields.items() if f.is_relation and f.related_model is Client}
    # The copy: every sealed field of the client's rows, or the reason it leaves them out.
    assert holder.export or holder.derived
    assert sealed <= set(holder.export) or holder.derived
    # The erasure: rows deleted, or kept without the client link and without sealed text.
    assert holder.erase in (Erase.DELETE, Erase.ANONYMISE, Erase.SCRUB, Erase.KEEP)
    assert (holder.erase == Erase.SCRUB) == (holder.scrub is not None)
    if holder.erase == Erase.KEEP:
        # Kept as they are only with a reason, and only holding no link to the client and
        # nothing sealed: what ties them to the client is a row the erasure anonymises.
        assert holder.kept and not client_links and not sealed
        anonymised = {h.model for h in HOLDERS if h.erase == Erase.ANONYMISE}
        model, hops = holder.model, []
        for part in holder.paths[0].split("__")[:-1]:
            model = model._meta.get_field(part).related_model
            hops.append(model)
        assert anonymised & set(hops), "the rows must hang off something the erasure anonymises"
    if holder.erase == Erase.ANONYMISE:
        assert client_links | sealed <= set(holder.clear)
        assert client_links, "a row kept by an erasure must lose its link to the client"


@pytest.mark.django_db
@pytest.mark.parametrize("holder", HOLDERS, ids=lambda h: h.model.__name__)
def test_each_place_can_be_read_by_client(holder, clinic_a):
    import uuid

    with clinic_context(clinic_a):
        assert list(holder.rows(uuid.uuid4())) == []  # every path is a real lookup
