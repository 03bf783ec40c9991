"""CSV import (all or nothing, with a per-row report) and export of clients."""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from bookwell.clients import blind
from bookwell.clients.models import Client, ClientIndex, IndexKind
from bookwell.clients.services import (
    ClientInput,
    _apply,
    _index_rows,
    client_clean,
    index_insert,
)
from bookwell.core.csvcells import safe_cell
from bookwell.integrations import webhooks
from bookwell.integrations.models import WebhookEvent
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import usage_count
from bookwell.tenancy import keyring
from bookwell.tenancy.models import Clinic

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 200
COLUMNS = [
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "preferred_language",
    "note",
    "marketing_consent",
    "name_kind",
]
ALIASES = {
    "name": "full_name",
    "e-mail": "email",
    "mobile": "phone",
    "language": "preferred_language",
}
TRUE = {"1", "true", "yes", "y", "ja", "oui", "si", "x"}
FALSE = {"", "0", "false", "no", "n", "nein", "non"}
BATCH = 500


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says what to fix."""


@dataclass
class RowError:
    line: int  # the line in the file (the header is line 1)
    column: str
    message: str


@dataclass
class ImportReport:
    total: int = 0
    valid: int = 0
    duplicates: list[int] = field(default_factory=list)  # lines that match an existing client
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    imported: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def _read(data: bytes) -> list[dict[str, str]]:
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it.")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportFileError(
            "The file is UTF-16 encoded. In your spreadsheet choose 'CSV UTF-8' when saving."
        )
    if b"\x00" in data:
        raise ImportFileError(
            "This is not a text CSV file. Export it from your spreadsheet as CSV."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "The file is not UTF-8 encoded. In your spreadsheet choose 'CSV UTF-8' when saving."
        ) from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise ImportFileError("The file is empty.")
        names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
        unknown = [h for h in names if h not in COLUMNS]
        if unknown:
            # Shortened: without a header row, these cells could be a client's data.
            shown = ", ".join(h[:20] + ("…" if len(h) > 20 else "") for h in unknown[:5])
            raise ImportFileError(
                f"Unknown columns: {shown}. The first row must name the columns: "
                f"{', '.join(COLUMNS)}."
            )
        if "full_name" not in names:
            raise ImportFileError(
                "The column full_name is missing (the first row names the columns)."
            )
        if len(set(names)) != len(names):
            raise ImportFileError("A column is named twice.")
        rows: list[dict[str, str]] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportFileError(f"The file has more than {MAX_ROWS} rows. Split it.")
            if len(values) != len(names):
                values = [*values, *[""] * (len(names) - len(values))][
                    : max(len(names), len(values))
                ]
            rows.append(
                {
                    "__line": str(reader.line_num),
                    **dict(zip(names, values, strict=False)),
                    "__extra": "1" if len(values) > len(names) else "",
                }
            )
    except csv.Error as exc:
        raise ImportFileError(f"The CSV is malformed near line {reader.line_num}: {exc}.") from exc
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    return rows


def count_rows(data: bytes) -> int:
    """Rows of a readable file (raises ImportFileError like the import would)."""
    return len(_read(data))


def _unescape(value: str) -> str:
    # Undo the formula guard that export adds.
    if value.startswith("'") and value[1:2] in {"=", "+", "-", "@"}:
        return value[1:]
    return value


@dataclass
class _Prepared:
    line: int
    client: Client


@dataclass(frozen=True)
class Progress:
    phase: str  # "checking" or "importing"
    done: int
    total: int


def _prepare(
    clinic: Clinic, rows: list[dict[str, str]], report: ImportReport
) -> Generator[Progress, None, list[_Prepared]]:
    prepared: list[_Prepared] = []
    seen_emails: dict[str, int] = {}

    def add_error(line: int, column: str, message: str) -> None:
        report.error_count += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append(RowError(line, column, message))

    for position, row in enumerate(rows):
        if position % BATCH == 0:
            yield Progress("checking", position, len(rows))
        line = int(row["__line"])
        if row.get("__extra"):
            add_error(line, "", _("This row has more values than there are columns."))
            continue
        consent_raw = _unescape(row.get("marketing_consent", "")).strip().lower()
        if consent_raw not in TRUE | FALSE:
            add_error(line, "marketing_consent", _("Use yes or no."))
            continue
        data = ClientInput(
            full_name=_unescape(row.get("full_name", "")),
            email=_unescape(row.get("email", "")),
            phone=_unescape(row.get("phone", "")),
            date_of_birth=_unescape(row.get("date_of_birth", "")),
            preferred_language=_unescape(row.get("preferred_language", "")).strip().lower() or "en",
            note=_unescape(row.get("note", "")),
            marketing_consent=consent_raw in TRUE,
            name_kind=_unescape(row.get("name_kind", "")).strip().lower() or "full",
        )
        clean = client_clean(clinic=clinic, data=data)
        if clean.errors:
            for column, messages in clean.errors.items():
                for message in messages:
                    add_error(line, column, message)
            continue
        if clean.email and clinic.client_email_unique:
            first = seen_emails.setdefault(clean.email, line)
            if first != line:
                add_error(line, "email", _("The same email as line %(line)s.") % {"line": first})
                continue
        client = Client(clinic=clinic)
        _apply(client, clean)
        prepared.append(_Prepared(line, client))
    return prepared


def _existing_emails(clinic: Clinic, emails: Iterable[str]) -> set[str]:
    """Which of these emails already belong to a client (one query per 1,000 and key)."""
    emails = list(emails)
    found: set[str] = set()
    for key in keyring.live_keys(clinic.pk):
        by_digest = {blind.digest(key.index_key, IndexKind.EMAIL, e): e for e in emails}
        digests = list(by_digest)
        for start in range(0, len(digests), 1000):
            chunk = digests[start : start + 1000]
            hits = ClientIndex.objects.filter(kind=IndexKind.EMAIL, digest__in=chunk).values_list(
                "digest", flat=True
            )
            found.update(by_digest[d] for d in hits)
    return found


def import_steps(
    *, clinic: Clinic, data: bytes, skip_duplicates: bool = False, commit: bool = True
) -> Generator[Progress, None, ImportReport]:
    """The import, yielding its progress; its return value is the report.

    Checks every row; imports all of them in one transaction, or none if any row is wrong.
    With skip_duplicates, rows whose email already belongs to a client are left out (and
    reported); otherwise they count as errors. `commit=False` only checks (the preview).
    """
    rows = _read(data)
    report = ImportReport(total=len(rows))
    prepared = yield from _prepare(clinic, rows, report)
    existing = _existing_emails(clinic, {p.client.email for p in prepared if p.client.email})
    kept: list[_Prepared] = []
    for item in prepared:
        if item.client.email in existing:
            report.duplicates.append(item.line)
            if not skip_duplicates:
                report.error_count += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    report.errors.append(
                        RowError(item.line, "email", "A client with this email already exists.")
                    )
            continue
        kept.append(item)
    report.valid = len(kept)
    if not report.ok or not commit:
        return report
    try:
        yield from _insert(clinic, kept)
    except IntegrityError:
        # A client with one of these emails was added meanwhile: nothing was imported.
        report.error_count += 1
        report.errors.append(
            RowError(0, "email", "A client with one of these emails was added meanwhile.")
        )
        return report
    report.imported = len(kept)
    transaction.on_commit(_refresh_planner_statistics)
    return report


def _insert(clinic: Clinic, kept: list[_Prepared]) -> Generator[Progress, None, None]:
    with transaction.atomic(), keyring.pinned_active_key(clinic.pk) as key:
        for start in range(0, len(kept), BATCH):
            yield Progress("importing", start, len(kept))
            batch = [p.client for p in kept[start : start + BATCH]]
            for client in batch:
                client.key_version = key.version
            Client.objects.bulk_create(batch)
            index_insert([row for client in batch for row in _index_rows(client, clinic, key)])
            webhooks.emit_many(
                clinic, WebhookEvent.CLIENT_CREATED, [webhooks.client_data(c) for c in batch]
            )
        # Recorded and counted in the import's own transaction (P5, P8).
        from bookwell.audit.models import Action
        from bookwell.audit.services import audit

        audit(Action.CLIENTS_IMPORTED, clinic_id=clinic.pk, extra={"rows": len(kept)})
        usage_count(Feature.CLIENT_IMPORT, clinic_id=clinic.pk)
    yield Progress("importing", len(kept), len(kept))


def import_clients(
    *, clinic: Clinic, data: bytes, skip_duplicates: bool = False, commit: bool = True
) -> ImportReport:
    """import_steps without the progress."""
    steps = import_steps(clinic=clinic, data=data, skip_duplicates=skip_duplicates, commit=commit)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            report: ImportReport = done.value
            return report


def _refresh_planner_statistics() -> None:
    # After a bulk load, SQLite's planner needs statistics to prefer the primary key over the
    # clinic index when fetching a page of clients (PostgreSQL's autovacuum does this itself).
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Client._meta.db_table}")
            cursor.execute(f"ANALYZE {ClientIndex._meta.db_table}")


def export_rows(clients: Iterable[Client]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return out

    writer.writerow(COLUMNS)
    yield flush()
    for c in clients:
        writer.writerow(
            [
                safe_cell(c.full_name),
                safe_cell(c.email),
                c.phone,
                c.date_of_birth,
                c.preferred_language,
                safe_cell(c.note),
                "yes" if c.marketing_consent else "no",
                c.name_kind,
            ]
        )
        yield flush()
