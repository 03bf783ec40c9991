"""Clinic export benchmark (issue 9, P15).

A clinic with 20,000 clients (imported from CSV, so their fields are sealed) and 100,000
appointments in a throwaway SQLite database. The export job builds the whole archive (every
entity as JSON and CSV, sealed on disk) and is compared with a plain `dumpdata` of the same
tables in the same run: time, and peak Python memory (tracemalloc, a separate run of each).
Streaming shows as a memory peak that does not grow with the clinic: the run is repeated at a
fifth of the size, and the peaks compared.

    python bench/clinic_export.py [--clients 20000] [--appointments 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _measure(run: Callable[[], object]) -> tuple[float, int]:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--appointments", type=int, default=100_000)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bookwell-bench-")
    os.environ.update(BOOKWELL_DATA_DIR=tmp, DJANGO_SETTINGS_MODULE="bookwell.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from bookwell.bookings.models import Appointment
    from bookwell.clients import csv_io
    from bookwell.clients.models import Client
    from bookwell.core.context import clinic_context
    from bookwell.privacy import archive
    from bookwell.privacy.clinic_data import clinic_export_build, clinic_export_request
    from bookwell.privacy.models import ClinicExport
    from bookwell.scheduling.models import Location, Service, StaffMember
    from bookwell.tenancy.models import Clinic

    def make_clinic(slug: str, clients: int, appointments: int) -> Clinic:
        clinic = Clinic.objects.create(name=slug, slug=slug, country="DE")
        with clinic_context(clinic):
            for first_row in range(0, clients, 10_000):
                rows = range(first_row, min(first_row + 10_000, clients))
                text = "full_name,email,phone,note\n" + "\n".join(
                    f"Person {i},p{i}@example.com,+4930{10_000_000 + i},prefers mornings"
                    for i in rows
                )
                report = csv_io.import_clients(clinic=clinic, data=text.encode())
                assert report.imported == len(rows), report.errors[:3]
            Location.objects.create(clinic=clinic, name="Main", time_zone="Europe/Berlin")
            service = Service.objects.create(clinic=clinic, name="Session", duration_min=30)
            staff = [
                StaffMember.objects.create(clinic=clinic, display_name=f"Staff {n}")
                for n in range(20)
            ]
            client_ids = list(Client.objects.values_list("pk", flat=True))
            first = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)
            batch = []
            for i in range(appointments):
                start = first + dt.timedelta(minutes=30 * (i // len(staff)))
                end = start + dt.timedelta(minutes=30)
                batch.append(
                    Appointment(
                        clinic=clinic,
                        service=service,
                        staff=staff[i % len(staff)],
                        client_id=client_ids[i % len(client_ids)],
                        start=start,
                        end=end,
                        block_start=start,
                        block_end=end,
                    )
                )
                if len(batch) == 5000:
                    Appointment.objects.bulk_create(batch)
                    batch = []
            Appointment.objects.bulk_create(batch)
        return clinic

    labels = [e.model._meta.label for e in archive.ENTITIES]

    def export(clinic: Clinic) -> Callable[[], object]:
        def run() -> None:
            with clinic_context(clinic):
                ClinicExport.objects.all().delete()
                made = clinic_export_request(clinic=clinic, actor=None)
            assert clinic_export_build(str(made.pk)) == "ready"

        return run

    def dumpdata(clinic: Clinic) -> Callable[[], object]:
        def run() -> None:
            with clinic_context(clinic), open(os.devnull, "w") as out:
                call_command("dumpdata", *labels, format="json", stdout=out, verbosity=0)

        return run

    small = make_clinic("small", args.clients // 5, args.appointments // 5)
    big = make_clinic("big", args.clients, args.appointments)
    connection.close()

    export_s, export_peak = _measure(export(big))
    dump_s, dump_peak = _measure(dumpdata(big))
    _, small_peak = _measure(export(small))
    with clinic_context(big):
        size = ClinicExport.objects.get().size_bytes
    print(
        f"clinic export of {args.appointments:,} appointments and {args.clients:,} clients: "
        f"{export_s:.1f} s, peak {export_peak / 2**20:.1f} MiB, archive {size / 2**20:.1f} MiB"
    )
    print(f"dumpdata of the same tables: {dump_s:.1f} s, peak {dump_peak / 2**20:.1f} MiB")
    print(f"time ratio (export / dumpdata): {export_s / dump_s:.2f}x")
    print(f"peak memory ratio (export / dumpdata): {export_peak / dump_peak:.2f}x")
    print(
        f"peak memory at this size / at a fifth of it: {export_peak / small_peak:.2f}x "
        "(about 1 when the export streams)"
    )


if __name__ == "__main__":
    main()
