"""Fetching by id inside the active clinic: one helper, one answer (P1).

"Missing" and "belongs to another clinic" both raise Http404, so an id never reveals whether
it exists elsewhere.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404

from bookwell.core.context import require_clinic_id


def access_in_clinic[M: models.Model](
    model: type[M], pk: Any, *, queryset: models.QuerySet[M] | None = None
) -> M:
    require_clinic_id()
    qs = queryset if queryset is not None else model._default_manager.all()
    try:
        ident: Any
        if isinstance(model._meta.pk, models.UUIDField):
            ident = pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
        else:
            ident = int(pk)
            if not 0 < ident < 2**63:
                raise ValueError("id out of range")
        return qs.get(pk=ident)
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise Http404(f"No {model._meta.verbose_name} with that id") from exc
