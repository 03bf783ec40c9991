"""Background work of the privacy app: building a clinic's export."""

from __future__ import annotations

from django.tasks import task


@task()
def build_clinic_export(export_id: str) -> str:
    """Builds one export archive; a second run of the same id finds it taken and stops."""
    from bookwell.privacy.clinic_data import clinic_export_build

    return clinic_export_build(export_id)
