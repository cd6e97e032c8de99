"""Case-insensitive keys (issue 12, item 9): a contact e-mail is unique per company and
a company name unique, ignoring case, enforced by the database (migration 0016) and
reported as payload errors; and what the product exports always imports back."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from tests.contacts_api import CREATE, create_contact
from tests.csvdata import export, upload
from tests.factories import Api, company_id

UPDATE = """mutation($input: ContactUpdateInput!) {
  contactUpdate(input: $input) { contact { email company { name } } errors { field code } } }"""
COMPANY_CREATE = """mutation($input: CompanyCreateInput!) {
  companyCreate(input: $input) { company { name } errors { field code message } } }"""
COMPANY_UPDATE = """mutation($input: CompanyUpdateInput!) {
  companyUpdate(input: $input) { company { name } errors { field code message } } }"""


async def test_contact_email_unique_per_company_ignoring_case(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await create_contact(demo, "manager1", a, "Ann", "Ann@Example.com")
    # Given Ann at Customer #A, the same address in another case is refused there
    result = (
        await demo.data(
            CREATE,
            {"input": {"companyId": a, "fullName": "Ann 2", "email": "ann@EXAMPLE.com"}},
            as_user="manager1",
        )
    )["contactCreate"]
    assert result["contact"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("email", "UNIQUE")]
    assert "ignoring case" in result["errors"][0]["message"]
    # but fine at another company
    other = await create_contact(demo, "manager1", b, "Ann at B", "ann@example.com")
    # moving that contact to Customer #A, or renaming an e-mail onto Ann's, is refused
    moved = await demo.data(
        UPDATE, {"input": {"id": other["id"], "companyId": a}}, as_user="manager1"
    )
    assert moved["contactUpdate"]["errors"] == [{"field": "email", "code": "UNIQUE"}]
    bob = await create_contact(demo, "manager1", a, "Bob", "bob@example.com")
    renamed = await demo.data(
        UPDATE, {"input": {"id": bob["id"], "email": "ANN@example.com"}}, as_user="manager1"
    )
    assert renamed["contactUpdate"]["errors"] == [{"field": "email", "code": "UNIQUE"}]
    # changing the case of one's own address is fine
    own = await demo.data(
        UPDATE, {"input": {"id": bob["id"], "email": "Bob@Example.com"}}, as_user="manager1"
    )
    assert own["contactUpdate"]["errors"] == []
    assert await Contact.filter(company_id=int(a)).count() == 2


async def test_the_database_enforces_the_keys(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    await Contact.create(company=a, full_name="X", email="x@example.com")
    with pytest.raises(IntegrityError):
        await Contact.create(company=a, full_name="Y", email="X@EXAMPLE.COM")
    with pytest.raises(IntegrityError):
        await Company.create(name="CUSTOMER #a")


async def test_company_names_unique_ignoring_case(demo: Api) -> None:
    created = await demo.data(COMPANY_CREATE, {"input": {"name": "customer #A"}}, as_user="user1")
    assert created["companyCreate"]["company"] is None
    assert [(e["field"], e["code"]) for e in created["companyCreate"]["errors"]] == [
        ("name", "UNIQUE")
    ]
    b = await company_id("Customer #B")
    updated = await demo.data(
        COMPANY_UPDATE, {"input": {"id": b, "name": "CUSTOMER #A"}}, as_user="manager1"
    )
    assert [e["code"] for e in updated["companyUpdate"]["errors"]] == ["UNIQUE"]
    # a company may change the case of its own name
    own = await demo.data(
        COMPANY_UPDATE, {"input": {"id": b, "name": "CUSTOMER #B"}}, as_user="manager1"
    )
    assert own["companyUpdate"]["errors"] == []


async def test_export_imports_back(demo: Api) -> None:
    # Given contacts whose e-mails differ only by case across companies, and names in
    # mixed case
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await create_contact(demo, "admin", a, "Ann", "Ann@Example.com")
    await create_contact(demo, "admin", a, "Ann's colleague", "team@example.com")
    await create_contact(demo, "admin", b, "Ann at B", "ann@example.com")
    companies = await export(demo, "companies", "admin")
    contacts = await export(demo, "contacts", "admin")
    assert companies.status_code == contacts.status_code == 200
    # When both files are imported back
    result = await upload(demo, companies.content, as_user="admin")
    assert result["errors"] == [], result
    assert (result["created"], result["updated"]) == (0, 0), result
    result = await upload(demo, contacts.content, as_user="admin", mutation="contactImport")
    assert result["errors"] == [], result
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3), result
    # Then nothing changed
    assert (await export(demo, "companies", "admin")).content == companies.content
    assert (await export(demo, "contacts", "admin")).content == contacts.content
    # and a company file spelling a name in another case updates that company
    changed = companies.content.replace(b"Customer #B", b"CUSTOMER #B")
    result = await upload(demo, changed, as_user="admin")
    assert result["errors"] == [] and result["created"] == 0, result
    assert await Company.filter(name="CUSTOMER #B").exists()


async def test_migration_refuses_existing_duplicates(demo: Api) -> None:
    """Migration 0016 stops with a list of the duplicates rather than guessing."""
    import importlib
    from types import SimpleNamespace

    from tortoise import Tortoise

    migration = importlib.import_module("migrations.0015_case_insensitive_keys")
    connection = Tortoise.get_connection("default")
    editor = SimpleNamespace(client=connection)
    await migration.refuse_duplicates(None, editor)  # no duplicates: passes
    a = await Company.get(name="Customer #A")
    await connection.execute_script("DROP INDEX contacts_company_email_ci")
    await connection.execute_script("DROP INDEX companies_name_ci")
    try:
        await Contact.create(company=a, full_name="X", email="dup@example.com")
        await Contact.create(company=a, full_name="Y", email="DUP@example.com")
        await Company.create(name="customer #a")
        with pytest.raises(RuntimeError) as refused:
            await migration.refuse_duplicates(None, editor)
        message = str(refused.value)
        assert "run `crm-graphql migrate` again" in message
        assert f"company {a.id}: 2 contacts with e-mail 'dup@example.com'" in message
        assert "2 companies named 'customer #a' (ignoring case)" in message
    finally:
        await Contact.filter(email="DUP@example.com").delete()
        await Company.filter(name="customer #a").delete()
        await connection.execute_script(
            "CREATE UNIQUE INDEX contacts_company_email_ci ON contacts (company_id, LOWER(email))"
        )
        await connection.execute_script(
            "CREATE UNIQUE INDEX companies_name_ci ON companies (LOWER(name))"
        )


async def test_a_race_past_the_check_is_still_a_payload_error(demo: Api, monkeypatch) -> None:
    """Two creations that both pass the check: the index refuses the second, and the
    client gets the payload error, not an internal error."""
    from crm_graphql.services import companies as company_service
    from crm_graphql.services import contacts as contact_service

    async def nothing(*args: object) -> list:
        return []

    async def free(*args: object) -> None:
        return None

    monkeypatch.setattr(company_service, "_unique", nothing)
    monkeypatch.setattr(contact_service, "_check_email_free", free)
    created = await demo.data(COMPANY_CREATE, {"input": {"name": "CUSTOMER #a"}}, as_user="user1")
    assert [(e["field"], e["code"]) for e in created["companyCreate"]["errors"]] == [
        ("name", "UNIQUE")
    ]
    a = await company_id("Customer #A")
    await create_contact(demo, "manager1", a, "Ann", "ann@example.com")
    result = await demo.data(
        CREATE,
        {"input": {"companyId": a, "fullName": "Ann 2", "email": "ANN@example.com"}},
        as_user="manager1",
    )
    assert [(e["field"], e["code"]) for e in result["contactCreate"]["errors"]] == [
        ("email", "UNIQUE")
    ]
