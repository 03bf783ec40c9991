"""Base for every tenant-owned model (P1: tenancy fails closed)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from bookwell.core.context import (
    NoActiveClinic,
    active_clinic_id,
    in_platform_scope,
)


def _scope_clinic_id(model: type[models.Model]) -> int | None:
    """The clinic id to filter on, None inside a platform scope; raises with neither."""
    if in_platform_scope():
        return None
    clinic_id = active_clinic_id()
    if clinic_id is None:
        raise NoActiveClinic(f"{model.__name__} used without a clinic context")
    return clinic_id


class TenantQuerySet(models.QuerySet):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        objs = list(objs)
        for obj in objs:
            obj.check_clinic_writable()
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager):
    """Default and base manager of tenant models: filtered to the active clinic, or refusing."""

    def get_queryset(self) -> TenantQuerySet:
        qs: TenantQuerySet = TenantQuerySet(self.model, using=self._db)
        clinic_id = _scope_clinic_id(self.model)
        return qs if clinic_id is None else qs.filter(clinic_id=clinic_id)


class TenantModel(models.Model):
    """A row that belongs to exactly one clinic.

    Every subclass gets row-level security on PostgreSQL through the `EnableTenantRLS`
    migration operation; tests/security checks that none is missing.
    """

    clinic = models.ForeignKey(
        "tenancy.Clinic", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects: ClassVar[TenantManager] = TenantManager()

    class Meta:
        abstract = True
        # Related-object access, refresh_from_db and save()'s UPDATE go through the base
        # manager: make it the scoped one so they fail closed too.
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.check_clinic_writable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self.check_clinic_writable()
        return super().delete(*args, **kwargs)

    def check_clinic_writable(self) -> None:
        # Invariant guard, not business logic: a row may only be written into the active clinic.
        if in_platform_scope():
            return
        clinic_id = active_clinic_id()
        if clinic_id is None:
            raise NoActiveClinic(f"{type(self).__name__} written without a clinic context")
        if self.clinic_id != clinic_id:
            raise NoActiveClinic(f"{type(self).__name__} written into another clinic")


class Tracked(models.Model):
    """A row that says when it last changed (the API's `updated_since`, incremental sync).

    A save limited to some fields (update_fields) stamps the time too; a queryset .update()
    must set updated_at itself."""

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields is not None and "updated_at" not in fields:
            kwargs["update_fields"] = [*fields, "updated_at"]
        super().save(*args, **kwargs)


class PeriodicRun(models.Model):
    """One row per periodic job and period: the worker that inserts it runs the job, every
    other worker sees the row and skips (once per period, however many workers run).
    Platform-level: a job name and times, nothing of any clinic."""

    job = models.CharField(max_length=60)
    period_start = models.DateTimeField()
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "period_start"], name="one_run_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.job} at {self.period_start}"


class WorkerHeartbeat(models.Model):
    """Each running `bookwell worker` stamps its row every round; /readyz reads the newest
    stamp. Platform-level: a host name and process id, nothing of any clinic."""

    worker = models.CharField(max_length=64, primary_key=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.worker
