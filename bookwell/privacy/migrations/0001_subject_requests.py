"""Data-subject requests (P17), under row-level security like every tenant table (P1)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import bookwell.core.migration_ops


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("clients", "0005_client_by_change"),
        ("tenancy", "0010_existing_clinics_unlimited"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SubjectRequest",
            fields=[
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("access", "Access: a copy of their data"),
                            ("rectification", "Rectification: correct their data"),
                            ("erasure", "Erasure: delete their data"),
                            ("restriction", "Restriction: stop using their data"),
                            ("portability", "Portability: their data, machine-readable"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("done", "Done"), ("withdrawn", "Withdrawn")],
                        default="open",
                        max_length=10,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("staff", "Recorded by staff"),
                            ("client", "Sent by the client from their link"),
                            ("api", "Recorded through the API"),
                        ],
                        max_length=8,
                    ),
                ),
                ("received_on", models.DateField()),
                ("due_on", models.DateField()),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "client",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="clients.client",
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.clinic",
                    ),
                ),
                (
                    "completed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "abstract": False,
                "base_manager_name": "objects",
                "indexes": [
                    models.Index(fields=["clinic", "status", "due_on"], name="subject_request_due")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("due_on__gte", models.F("received_on"))),
                        name="subject_request_due_after",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("status", "open"), ("completed_at__isnull", False), _connector="OR"
                        ),
                        name="subject_request_closed_when",
                    ),
                ],
            },
        ),
        bookwell.core.migration_ops.EnableTenantRLS("SubjectRequest"),
    ]
