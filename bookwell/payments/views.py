"""Stripe's events for one clinic (issue 10). The address names the clinic's payment set-up by
its random id (what the owner gives Stripe); the signature under the clinic's own signing
secret is the credential."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import ServiceError
from bookwell.integrations.problems import problem
from bookwell.payments import services
from bookwell.payments.models import PaymentSettings
from bookwell.tenancy.models import Clinic


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request: HttpRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    """400 for a bad signature (nothing changes), 404 for an address no clinic has (both
    problem+json); 200 for anything else, handled or not."""
    with platform_scope("a Stripe event names the clinic's payment set-up, not the clinic"):
        clinic_id = (
            PaymentSettings.objects.filter(pk=endpoint_id)
            .values_list("clinic_id", flat=True)
            .first()
        )
        clinic = Clinic.objects.filter(pk=clinic_id).first() if clinic_id else None
    if clinic is None:
        return problem(404, "not_found", "No payment set-up has this address.")
    with clinic_context(clinic):
        try:
            outcome = services.stripe_event(
                clinic=clinic,
                payload=request.body,
                signature=request.headers.get("Stripe-Signature", ""),
            )
        except ServiceError as exc:
            return problem(exc.status, exc.code, str(exc.message))
    return JsonResponse({"outcome": outcome})
