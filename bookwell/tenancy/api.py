"""API: the clinic the token belongs to."""

from django.http import HttpRequest
from ninja import Router, Schema

from bookwell.integrations.auth import endpoint
from bookwell.integrations.scopes import Scope
from bookwell.tenancy.models import Clinic

router = Router(tags=["clinic"])


class ClinicOut(Schema):
    id: int
    name: str
    slug: str
    time_zone: str
    country: str
    locale: str
    online_booking: bool
    booking_contact: str
    require_consent: bool
    allow_pseudonyms: bool


@endpoint(router.get, "/clinic", scope=Scope.SCHEDULE_READ, response=ClinicOut)
def clinic_get(request: HttpRequest) -> Clinic:
    """The clinic this token belongs to, with its booking rules."""
    return request.auth.clinic  # type: ignore[attr-defined]
