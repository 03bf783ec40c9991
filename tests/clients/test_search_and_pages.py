"""Finding clients without plaintext (blind indexes), and the client pages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from bookwell.clients.models import Client
from bookwell.clients.selectors import client_search
from bookwell.clients.services import ClientInput, client_create, client_update
from bookwell.core.context import clinic_context
from bookwell.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def make(clinic, name, email="", phone="", **extra):
    with clinic_context(clinic):
        return client_create(
            clinic=clinic, data=ClientInput(full_name=name, email=email, phone=phone, **extra)
        )


def names(clinic, query):
    with clinic_context(clinic):
        return sorted(c.full_name for c in client_search(clinic=clinic, query=query))


@pytest.fixture
def people(clinic_a):
    make(clinic_a, "Chloé Müller", "chloe@example.test", "030 1234567")
    make(clinic_a, "Christoph Meier", "cm@example.test", "+49 171 2345678")
    make(clinic_a, "Ana María Núñez", "ana@example.test")
    return clinic_a


def test_search_by_the_start_of_a_first_or_last_name(people):
    assert names(people, "chr") == ["Christoph Meier"]
    assert names(people, "ch") == ["Chloé Müller", "Christoph Meier"]
    assert names(people, "mei") == ["Christoph Meier"]
    assert names(people, "eier") == []  # prefixes only, not substrings


def test_search_folds_case_and_accents_both_ways(people):
    assert names(people, "MULLER") == ["Chloé Müller"]
    assert names(people, "chloe") == ["Chloé Müller"]
    assert names(people, "núñ") == ["Ana María Núñez"]
    assert names(people, "maria nun") == ["Ana María Núñez"]
    assert names(people, "maria meier") == []  # every word must match


def test_search_by_email_and_phone_in_any_notation(people):
    assert names(people, "CHLOE@example.test") == ["Chloé Müller"]
    assert names(people, "+49 30 1234567") == ["Chloé Müller"]
    assert names(people, "0171 234 5678") == ["Christoph Meier"]
    assert names(people, "nobody@example.test") == []


def test_search_never_crosses_clinics(people, clinic_b):
    make(clinic_b, "Chloé Other", "chloe@example.test")
    assert names(people, "chloe") == ["Chloé Müller"]
    assert names(clinic_b, "chloe") == ["Chloé Other"]


def test_a_duplicate_email_is_refused_when_the_clinic_requires_unique(people):
    with pytest.raises(ValidationError) as exc:
        make(people, "Someone Else", "Chloe@Example.TEST")
    assert exc.value.message_dict["email"] == ["A client with this email already exists."]
    with clinic_context(people):
        assert Client.objects.count() == 3


def test_duplicates_are_allowed_when_the_clinic_says_so(people):
    people.client_email_unique = False
    people.save()
    make(people, "Shared Mailbox", "chloe@example.test")
    assert names(people, "chloe@example.test") == ["Chloé Müller", "Shared Mailbox"]


def test_editing_reindexes_the_client(people):
    with clinic_context(people):
        (client,) = list(client_search(clinic=people, query="chr"))
        client_update(
            clinic=people,
            client=client,
            data=ClientInput(full_name="Kristof Meier", email="k@example.test"),
        )
    assert names(people, "chr") == []
    assert names(people, "kri") == ["Kristof Meier"]
    assert names(people, "cm@example.test") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("phone", "12", "Enter a valid phone number"),
        ("full_name", "x" * 121, "at most 120 characters"),
        ("note", "n" * 501, "at most 500 characters"),
        ("full_name", "   ", "This field is required."),
    ],
)
def test_bad_input_gives_field_errors_and_writes_nothing(
    clinic_a, member_client, field, value, message
):
    _, client = member_client(clinic_a, Role.FRONT_DESK)
    data = {"full_name": "Valid Name", "preferred_language": "en", field: value}
    response = client.post(f"/c/{clinic_a.slug}/clients/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    with clinic_context(clinic_a):
        assert Client.objects.count() == 0


def test_pseudonyms_only_where_the_clinic_allows(clinic_a):
    with pytest.raises(ValidationError):
        make(clinic_a, "J.D.", name_kind="initials")
    clinic_a.allow_pseudonyms = True
    clinic_a.save()
    assert make(clinic_a, "J.D.", name_kind="initials").name_kind == "initials"


def test_staff_create_edit_and_find_a_client_through_the_pages(clinic_a, member_client):
    _, client = member_client(clinic_a, Role.FRONT_DESK)
    created = client.post(
        f"/c/{clinic_a.slug}/clients/new/",
        {
            "full_name": "Page Person",
            "email": "page@example.test",
            "phone": "030 5556677",
            "preferred_language": "de",
        },
    )
    assert created.status_code == 302
    detail = client.get(created["Location"])
    assert "Page Person" in detail.content.decode() and "+49305556677" in detail.content.decode()

    edit_url = created["Location"] + "edit/"
    edited = client.post(
        edit_url,
        {"full_name": "Paige Person", "email": "page@example.test", "preferred_language": "de"},
    )
    assert edited.status_code == 302

    listing = client.get(f"/c/{clinic_a.slug}/clients/?q=pai")
    assert "Paige Person" in listing.content.decode()
    partial = client.get(f"/c/{clinic_a.slug}/clients/?q=zzz", headers={"HX-Request": "true"})
    assert (
        "<html" not in partial.content.decode() and "No client matches" in partial.content.decode()
    )


def test_the_client_list_paginates_in_a_fixed_number_of_queries(
    clinic_a, member_client, django_assert_max_num_queries
):
    _, client = member_client(clinic_a, Role.READ_ONLY)
    for i in range(30):
        make(clinic_a, f"Person Number{i}", f"p{i}@example.test")
    with django_assert_max_num_queries(20):
        response = client.get(f"/c/{clinic_a.slug}/clients/")
    body = response.content.decode()
    assert "Page 1 of 2" in body and "30 clients" in body


def test_index_rows_reveal_neither_prefix_order_nor_name_length(clinic_a):
    from bookwell.clients.blind import NAME_PAD
    from bookwell.clients.models import ClientIndex

    short = make(clinic_a, "Al Bo")
    long = make(clinic_a, "Maximiliane Oberschwarzenberger")
    with clinic_context(clinic_a):
        for client in (short, long):
            rows = list(
                ClientIndex.objects.filter(client=client)
                .order_by("id")
                .values_list("kind", "digest")
            )
            assert [d for _, d in rows] == sorted(d for _, d in rows)  # insertion in digest order
            names = [d for k, d in rows if k == "name"]
            assert len(names) % NAME_PAD == 0
        assert ClientIndex.objects.filter(client=short, kind="name").count() == NAME_PAD


def test_one_letter_finds_initials_only_and_two_letters_find_name_starts(clinic_a):
    clinic_a.allow_pseudonyms = True
    clinic_a.save()
    make(clinic_a, "J. D.", name_kind="initials")
    make(clinic_a, "Jane Doe")
    assert names(clinic_a, "j") == ["J. D."]
    assert names(clinic_a, "ja") == ["Jane Doe"]


def test_unique_emails_can_be_turned_on_only_without_shared_emails(clinic_a, member_client):
    from bookwell.clients.rotation import rotate_clinic_key

    _, owner = member_client(clinic_a, Role.OWNER)
    clinic_a.client_email_unique = False
    clinic_a.save()
    first = make(clinic_a, "One Person", "shared@example.test")
    second = make(clinic_a, "Two Person", "shared@example.test")
    form = {"name": clinic_a.name, "time_zone": "Europe/Berlin", "country": "DE", "locale": "en"}

    refused = owner.post(f"/c/{clinic_a.slug}/settings/", {**form, "client_email_unique": "on"})
    assert refused.status_code == 400 and "1 email address is shared" in refused.content.decode()
    clinic_a.refresh_from_db()
    assert not clinic_a.client_email_unique

    with clinic_context(clinic_a):
        client_update(
            clinic=clinic_a,
            client=second,
            data=ClientInput(full_name="Two Person", email="two@example.test"),
        )
    accepted = owner.post(f"/c/{clinic_a.slug}/settings/", {**form, "client_email_unique": "on"})
    assert accepted.status_code == 302
    clinic_a.refresh_from_db()
    # Now the database itself refuses a duplicate, and key rotation keeps working.
    with pytest.raises(ValidationError):
        make(clinic_a, "Three Person", "shared@example.test")
    rotate_clinic_key(clinic=clinic_a)
    assert names(clinic_a, "shared@example.test") == [first.full_name]


def test_editing_keeps_what_the_clinic_no_longer_asks_for(clinic_a, member_client):
    clinic_a.collect_date_of_birth = True
    clinic_a.allow_pseudonyms = True
    clinic_a.save()
    client = make(clinic_a, "J. D.", name_kind="initials", date_of_birth="1980-04-01")
    clinic_a.collect_date_of_birth = False
    clinic_a.allow_pseudonyms = False
    clinic_a.save()
    _, desk = member_client(clinic_a, Role.FRONT_DESK)

    response = desk.post(
        f"/c/{clinic_a.slug}/clients/{client.pk}/edit/",
        {"full_name": "J. D.", "phone": "+49 30 1234567", "preferred_language": "en"},
    )

    assert response.status_code == 302
    with clinic_context(clinic_a):
        fresh = Client.objects.get(pk=client.pk)
        assert (fresh.date_of_birth, fresh.name_kind, fresh.phone) == (
            "1980-04-01",
            "initials",
            "+49301234567",
        )


def test_export_and_import_keep_initials_and_pseudonyms(clinic_a, clinic_b):
    from bookwell.clients import csv_io

    for clinic in (clinic_a, clinic_b):
        clinic.allow_pseudonyms = True
        clinic.save()
    make(clinic_a, "Moonlight", name_kind="pseudonym")
    with clinic_context(clinic_a):
        exported = "".join(csv_io.export_rows(Client.objects.all())).encode()
    with clinic_context(clinic_b):
        report = csv_io.import_clients(clinic=clinic_b, data=exported)
        assert report.ok
        assert list(Client.objects.values_list("name_kind", flat=True)) == ["pseudonym"]
