"""A new clinic gets its calendar stamp row in the transaction that creates it: the triggers
only ever raise an existing stamp (see migration 0010)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from bookwell.bookings.models import CalendarStamp
from bookwell.tenancy.models import Clinic


@receiver(post_save, sender=Clinic)
def stamp_new_clinic(sender: type[Clinic], instance: Clinic, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        CalendarStamp.objects.get_or_create(clinic=instance)
