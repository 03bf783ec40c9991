"""P1: tenancy fails closed in the ORM."""

from __future__ import annotations

import pytest

from bookwell.core.context import NoActiveClinic, clinic_context, platform_scope
from bookwell.tenancy.models import Membership
from bookwell.tenancy.permissions import Role
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_tenant_manager_raises_without_a_clinic_context(clinic_a):
    make_member(clinic_a, Role.OWNER)

    with pytest.raises(NoActiveClinic):
        list(Membership.objects.all())
    with pytest.raises(NoActiveClinic):
        Membership.objects.count()


def test_tenant_manager_returns_only_the_active_clinics_rows(clinic_a, clinic_b):
    a_user = make_member(clinic_a, Role.OWNER)
    make_member(clinic_b, Role.OWNER)

    with clinic_context(clinic_a):
        users = list(Membership.objects.values_list("user_id", flat=True))

    assert users == [a_user.pk]


def test_platform_scope_sees_every_clinic_and_must_say_why(clinic_a, clinic_b):
    make_member(clinic_a)
    make_member(clinic_b)

    with platform_scope("test: counting across clinics"):
        assert Membership.objects.count() == 2
    with pytest.raises(ValueError), platform_scope(""):
        pass


def test_related_access_fails_closed_outside_the_context(clinic_a):
    user = make_member(clinic_a)
    with clinic_context(clinic_a):
        membership = Membership.objects.get(user=user)

    # The base manager is the scoped one: refresh and save refuse without a context.
    with pytest.raises(NoActiveClinic):
        membership.refresh_from_db()
    with pytest.raises(NoActiveClinic):
        membership.save()


def test_a_row_cannot_be_written_into_another_clinic(clinic_a, clinic_b):
    user = make_member(clinic_a)
    with clinic_context(clinic_b), pytest.raises(NoActiveClinic):
        Membership.objects.create(clinic=clinic_a, user=user, role=Role.ADMIN)
    with clinic_context(clinic_b), pytest.raises(NoActiveClinic):
        Membership.objects.bulk_create([Membership(clinic=clinic_a, user=user, role=Role.ADMIN)])

    with platform_scope("test: verify nothing was written"):
        assert Membership.objects.filter(clinic=clinic_a).count() == 1


def test_every_tenant_model_uses_the_scoped_manager_as_base_manager():
    from django.apps import apps

    from bookwell.core.models import TenantManager, TenantModel

    tenant_models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    assert tenant_models, "expected tenant models"
    for model in tenant_models:
        assert isinstance(model._default_manager, TenantManager), model
        assert isinstance(model._base_manager, TenantManager), model


def test_every_tenant_model_gets_row_level_security_in_its_migrations():
    # The PostgreSQL suite checks the catalog; this catches a missing operation on any database.
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    from bookwell.core.migration_ops import EnableTenantRLS
    from bookwell.core.models import TenantModel

    loader = MigrationLoader(None, ignore_no_migrations=True)
    covered = {
        (app_label, op.model_name.lower())
        for (app_label, _), migration in loader.disk_migrations.items()
        for op in migration.operations
        if isinstance(op, EnableTenantRLS)
    }
    for model in apps.get_models():
        if issubclass(model, TenantModel):
            assert (model._meta.app_label, model._meta.model_name) in covered, model
