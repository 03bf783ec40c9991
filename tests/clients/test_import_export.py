"""CSV import is all or nothing with a per-row report; export round-trips."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bookwell.clients import csv_io
from bookwell.clients.models import Client
from bookwell.clients.selectors import client_search
from bookwell.clients.services import ClientInput, client_create
from bookwell.core.context import clinic_context
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def count(clinic) -> int:
    with clinic_context(clinic):
        return Client.objects.count()


def run(clinic, text: str | bytes, **kw):
    data = text.encode() if isinstance(text, str) else text
    with clinic_context(clinic):
        return csv_io.import_clients(clinic=clinic, data=data, **kw)


def test_ten_thousand_rows_import(clinic_a):
    rows = ["full_name,email,phone,marketing_consent"]
    rows += [
        f"Person{i} Family{i % 97},p{i}@example.test,+4930{1000000 + i},{'yes' if i % 2 else 'no'}"
        for i in range(10_000)
    ]
    report = run(clinic_a, "\n".join(rows))

    assert report.ok and report.imported == 10_000
    assert count(clinic_a) == 10_000
    with clinic_context(clinic_a):
        found = list(client_search(clinic=clinic_a, query="p9999@example.test"))
        assert [c.full_name for c in found] == ["Person9999 Family8"]
        assert found[0].marketing_consent is True
        assert client_search(clinic=clinic_a, query="family96").count() == len(
            range(96, 10_000, 97)
        )


def test_a_file_with_bad_rows_reports_each_and_imports_nothing(clinic_a):
    text = (
        "full_name,email,phone\n"
        "Good Person,good@example.test,\n"
        ",nameless@example.test,\n"
        "Bad Mail,not-an-email,\n"
        "Bad Phone,,123\n"
        "Twice,good@example.test,\n"
    )
    report = run(clinic_a, text)

    assert not report.ok and report.imported == 0
    assert {(e.line, e.column) for e in report.errors} == {
        (3, "full_name"),
        (4, "email"),
        (5, "phone"),
        (6, "email"),
    }
    assert count(clinic_a) == 0


def test_duplicates_of_existing_clients_stop_the_import_or_are_skipped(clinic_a):
    with clinic_context(clinic_a):
        client_create(
            clinic=clinic_a, data=ClientInput(full_name="Already Here", email="here@example.test")
        )
    text = "full_name,email\nNew One,new@example.test\nAgain,HERE@example.test\n"

    refused = run(clinic_a, text)
    assert not refused.ok and refused.duplicates == [3] and count(clinic_a) == 1

    skipped = run(clinic_a, text, skip_duplicates=True)
    assert skipped.ok and skipped.imported == 1 and skipped.duplicates == [3]
    assert count(clinic_a) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Naïve Name,email\n".encode("latin-1") + b"Jos\xe9,j@example.test\n", "not UTF-8"),
        (b"email,phone\na@example.test,\n", "full_name is missing"),
        (b"full_name,shoe_size\nA Person,42\n", "Unknown columns: shoe_size"),
        (b"", "empty"),
        (b"full_name\n", "no rows"),
        (b"full_name\n\x00\x01binary", "not a text CSV"),
        (b'full_name,email\n"Unclosed quote,a@example.test\n', ""),
    ],
)
def test_broken_files_give_a_clear_error_and_write_nothing(clinic_a, data, message):
    try:
        report = run(clinic_a, data)
    except csv_io.ImportFileError as exc:
        assert message in str(exc)
    else:
        assert not report.ok and message == ""  # the quote case: reported per row
    assert count(clinic_a) == 0


def test_quoted_fields_with_commas_and_newlines_import(clinic_a):
    text = 'full_name,note\n"Lee, Jordan","Prefers mornings,\nuse side door"\n'
    report = run(clinic_a, text)
    assert report.ok
    with clinic_context(clinic_a):
        c = Client.objects.get()
        assert (c.full_name, c.note) == ("Lee, Jordan", "Prefers mornings,\nuse side door")


def test_oversized_upload_is_refused_before_reading(clinic_a, member_client):
    _, client = member_client(clinic_a, Role.ADMIN)
    big = SimpleUploadedFile("big.csv", b"full_name\n" + b"x" * (csv_io.MAX_BYTES + 1), "text/csv")
    response = client.post(f"/c/{clinic_a.slug}/clients/import/", {"file": big, "action": "import"})
    assert response.status_code == 400
    assert "larger than 10 MB" in response.content.decode()
    assert count(clinic_a) == 0


def test_check_previews_without_writing_then_import_writes(clinic_a, member_client):
    _, client = member_client(clinic_a, Role.OWNER)
    body = b"full_name,email\nPreview Person,pp@example.test\n"
    url = f"/c/{clinic_a.slug}/clients/import/"

    check = client.post(url, {"file": SimpleUploadedFile("c.csv", body), "action": "check"})
    assert check.status_code == 200 and "Ready to import 1 of 1 rows" in check.content.decode()
    assert count(clinic_a) == 0

    done = client.post(url, {"file": SimpleUploadedFile("c.csv", body), "action": "import"})
    assert done.status_code == 200 and "Imported 1 client<" in done.content.decode()
    assert count(clinic_a) == 1


def test_export_round_trips_through_import(clinic_a, clinic_b, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    with clinic_context(clinic_a):
        client_create(
            clinic=clinic_a,
            data=ClientInput(
                full_name="=HYPERLINK(evil)",
                email="f@example.test",
                phone="+49 30 1234567",
                note="-2+3",
                marketing_consent=True,
            ),
        )
        client_create(
            clinic=clinic_a, data=ClientInput(full_name="Lee, Jordan", note="line one\nline two")
        )

    response = owner.get(f"/c/{clinic_a.slug}/clients/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    exported = b"".join(response.streaming_content)
    cells = [c for row in csv.reader(io.StringIO(exported.decode())) for c in row]
    assert "'=HYPERLINK(evil)" in cells and "+4930 1234567".replace(" ", "") in cells
    assert not any(c.startswith("=") for c in cells)

    report = run(clinic_b, exported)
    assert report.ok and report.imported == 2
    with clinic_context(clinic_b):
        got = {
            (c.full_name, c.email, c.phone, c.note, c.marketing_consent)
            for c in Client.objects.all()
        }
    assert got == {
        ("=HYPERLINK(evil)", "f@example.test", "+49301234567", "-2+3", True),
        ("Lee, Jordan", "", "", "line one\nline two", False),
    }


def test_a_hundred_megabyte_upload_is_refused_before_its_body_is_read(clinic_a, member_client):
    _, client = member_client(clinic_a, Role.ADMIN)
    # The declared length is what the server sees first; the body is never read.
    response = client.post(
        f"/c/{clinic_a.slug}/clients/import/",
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert count(clinic_a) == 0


def _streamed(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_a_large_import_shows_its_progress_while_it_runs(clinic_a, member_client):
    user, owner = member_client(clinic_a, Role.OWNER)
    rows = "\n".join(f"Big Import{i},big{i}@example.test" for i in range(1500))
    upload = SimpleUploadedFile("big.csv", f"full_name,email\n{rows}\n".encode())

    page = _streamed(
        owner.post(f"/c/{clinic_a.slug}/clients/import/", {"file": upload, "action": "import"})
    )

    assert page.count("<progress") >= 4  # checking and importing, in steps
    assert 'value="1500"' in page and "Importing: 1500 of 1500" in page
    assert "Imported 1500 clients" in page and page.rstrip().endswith("</html>")
    assert count(clinic_a) == 1500
    # Recorded as the owner's import though the page ran on after its view (P5), once.
    from bookwell.audit.models import Action, ActorKind, AuditEvent
    from bookwell.core.context import platform_scope

    with platform_scope("test"):
        [event] = AuditEvent.objects.filter(action=Action.CLIENTS_IMPORTED)
    assert (event.actor_kind, event.actor_id, event.extra) == (
        ActorKind.USER,
        str(user.pk),
        {"rows": 1500},
    )
    assert event.request_id and event.device


def test_a_large_import_with_a_bad_row_streams_the_report_and_writes_nothing(
    clinic_a, member_client
):
    _, owner = member_client(clinic_a, Role.OWNER)
    rows = [f"Big Import{i},big{i}@example.test" for i in range(1500)]
    rows[700] = "Broken Row,not-an-email"
    upload = SimpleUploadedFile("big.csv", ("full_name,email\n" + "\n".join(rows)).encode())

    page = _streamed(
        owner.post(f"/c/{clinic_a.slug}/clients/import/", {"file": upload, "action": "import"})
    )

    assert "Nothing was imported" in page and "<td>702</td>" in page
    assert count(clinic_a) == 0


def test_checking_a_large_file_shows_progress_and_writes_nothing(clinic_a, member_client):
    _, owner = member_client(clinic_a, Role.OWNER)
    rows = "\n".join(f"Big Check{i},check{i}@example.test" for i in range(1200))
    upload = SimpleUploadedFile("big.csv", f"full_name,email\n{rows}\n".encode())

    page = _streamed(
        owner.post(f"/c/{clinic_a.slug}/clients/import/", {"file": upload, "action": "check"})
    )

    assert "Checking rows" in page and "Ready to import 1200 of 1200 rows" in page
    assert count(clinic_a) == 0
