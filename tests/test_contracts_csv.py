"""CSV export and import of contracts (SPEC §5): the column order, the example row of
the original documentation, round trips, per-row errors, dry runs and all-or-nothing."""

from __future__ import annotations

from datetime import date

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractLink, ContractStatus, ContractType
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldValue,
)
from crm_graphql.models.users import User
from crm_graphql.services.exports.contracts import CONTRACT_COLUMNS
from tests.csvdata import contract_row, export, rows_of, to_csv, upload
from tests.factories import (
    Api,
    make_company,
    make_contract,
    make_custom_field,
    make_custom_value,
    make_user,
)

SPEC_HEADER = (
    "name, contract number, description, date begin, date end, id company, id sla, "
    "id group, private, status, id contract type, related contract, manager, company"
)
SPEC_ROW = (
    "SAMPLE CUSTOMER 2021,21/1001,Sample contract.,2021-01-20,2022-01-20,3,,,0,1,2,,admin,"
    "Sample customer,Beta"
)


async def release_field() -> CustomField:
    services = await ContractType.get(name="Services contract")
    return await make_custom_field(
        entity=CustomFieldEntity.CONTRACT,
        owner_id=services.id,
        name="Release",
        kind=CustomFieldKind.COMBO,
        options=["Alpha", "Beta"],
        show_in_list=True,
    )


async def sample_customer() -> Company:
    mine = await Company.get(name="My company")
    admin = await User.get(username="admin")
    return await make_company("Sample customer", parent=mine, manager=admin)


def test_the_columns_are_the_spec_order() -> None:
    assert ", ".join(CONTRACT_COLUMNS) == SPEC_HEADER


async def test_the_spec_example_row_imports(demo: Api) -> None:
    # Given the example's company, and type 2 (Services contract) with a field "Release"
    field = await release_field()
    company = await sample_customer()
    services = await ContractType.get(name="Services contract")
    assert services.id == 2
    content = (",".join([*CONTRACT_COLUMNS, "Release"]) + "\r\n" + SPEC_ROW + "\r\n").encode()
    result = await upload(demo, content, mutation="contractImport")
    assert result["rowErrors"] == [] and result["errors"] == []
    assert (result["created"], result["written"]) == (1, True)
    contract = await Contract.get(reference="SAMPLE CUSTOMER 2021")
    # The company column (a name) wins over "id company" (an id of the original system)
    assert contract.company_id == company.id
    assert contract.number == "21/1001"
    assert contract.description == "Sample contract."
    assert (contract.date_begin, contract.date_end) == (date(2021, 1, 20), date(2022, 1, 20))
    assert contract.status == ContractStatus.ACTIVE and contract.private is False
    assert contract.contract_type_id == services.id
    assert contract.owner_id == (await User.get(username="admin")).id
    value = await CustomFieldValue.get(field=field, object_id=contract.id)
    assert value.value == "Beta"
    assert await Activity.filter(company_id=company.id).count() == 1
    # Importing it again changes nothing
    again = await upload(demo, content, mutation="contractImport")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)


async def test_export_and_import_back_is_a_no_op(demo: Api) -> None:
    field = await release_field()
    customer_a = await Company.get(name="Customer #A")
    first = await make_contract(
        company=customer_a,
        reference="=cmd|' /C calc'!A0",
        number="N-1",
        description='Line one\nline "two", three',
        date_begin=date(2024, 1, 1),
        date_end=date(2024, 12, 31),
        contract_type_id=2,
        sla_id=7,
    )
    await make_custom_value(field, first.id, "Alpha")
    second = await make_contract(customer_a, "Plain", date_begin=date(2023, 5, 1), private=True)
    await ContractLink.create(contract=first, related=second)
    # One type: its fields are named in the header
    response = await export(demo, "contracts", "admin", contractType="2")
    assert response.status_code == 200, response.text
    rows = rows_of(response.content)
    assert rows[0] == [*CONTRACT_COLUMNS, "Release"]
    assert len(rows) == 2
    assert rows[1][0].startswith("'=")  # formula neutralised
    assert rows[1][9] == "1" and rows[1][11] == str(second.id) and rows[1][-1] == "Alpha"
    # Every type: generic custom columns, ACTIVE only unless the filter names a status
    response = await export(demo, "contracts", "admin")
    rows = rows_of(response.content)
    assert rows[0] == [*CONTRACT_COLUMNS, "custom field 1"]
    assert len(rows) == 3
    result = await upload(demo, response.content, mutation="contractImport")
    assert result["rowErrors"] == [], result
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 2)
    # A changed cell updates
    changed = response.content.replace(b"Plain,,,", b"Plain,,New description,")
    result = await upload(demo, changed, mutation="contractImport")
    assert (result["updated"], result["unchanged"]) == (1, 1)
    assert (await Contract.get(id=second.id)).description == "New description"
    assert await ContractLink.all().count() == 1


async def test_export_is_the_visible_contracts(demo: Api) -> None:
    customer_b = await Company.get(name="Customer #B")
    await make_contract(customer_b, "Secret", private=True)
    await make_contract(customer_b, "Public")
    await make_user("bob", bits=("CR",), company=customer_b)
    demo.tokens["bob"] = await demo.login("bob", "bob-pass")
    names = [r[0] for r in rows_of((await export(demo, "contracts", "bob")).content)[1:]]
    assert names == ["Public"]
    names = [r[0] for r in rows_of((await export(demo, "contracts", "user1")).content)[1:]]
    assert sorted(names) == ["Public", "Secret"]
    assert (await export(demo, "contracts", "user2")).status_code == 403
    response = await export(demo, "contracts", "user1", filter='{"status": {"eq": "PENDING"}}')
    assert rows_of(response.content)[1:] == []
    assert (await export(demo, "contracts", "user1", contractType="x")).status_code == 400


async def test_bad_rows_are_reported_and_nothing_is_written(demo: Api) -> None:
    await release_field()
    customer_a = await Company.get(name="Customer #A")
    await make_contract(customer_a, "Taken", number="N-9")
    rows = [
        [*CONTRACT_COLUMNS, "Release"],
        [*contract_row("Good", "Customer #A"), ""],
        [*contract_row("Dates", "Customer #A", date_begin="2024-05-01", date_end="2024-04-01"), ""],
        [*contract_row("Number", "Customer #A", contract_number="N-9"), ""],
        [*contract_row("Type", "Customer #A", id_contract_type="99"), ""],
        [*contract_row("Status", "Customer #A", status="7"), ""],
        [*contract_row("Value", "Customer #A", id_contract_type="2"), "Gamma"],
        [*contract_row("Nowhere", "No such company"), ""],
        [*contract_row("Dup", "Customer #A", contract_number="N-5"), ""],
        [*contract_row("Dup2", "Customer #A", contract_number="N-5"), ""],
    ]
    result = await upload(demo, to_csv(rows), mutation="contractImport")
    found = {(e["line"], e["field"], e["code"]) for e in result["rowErrors"]}
    assert found == {
        (3, "date end", "INVALID"),
        (4, "contract number", "UNIQUE"),
        (5, "id contract type", "NOT_FOUND"),
        (6, "status", "INVALID"),
        (7, "Release", "INVALID"),
        (8, "company", "NOT_FOUND"),
        (10, "contract number", "UNIQUE"),
    }
    assert result["written"] is False and result["rejected"] == 7
    assert await Contract.all().count() == 1
    # A dry run of the good rows writes nothing either
    good = [rows[0], rows[1], rows[8]]
    dry = await upload(demo, to_csv(good), mutation="contractImport", dry_run=True)
    assert (dry["created"], dry["written"]) == (2, False)
    assert await Contract.all().count() == 1
    # Partial: the good rows are written, the bad ones reported
    partial = await upload(demo, to_csv(rows), mutation="contractImport", partial=True)
    assert (partial["created"], partial["rejected"], partial["written"]) == (2, 7, True)
    assert sorted(await Contract.all().values_list("reference", flat=True)) == [
        "Dup",
        "Good",
        "Taken",
    ]


async def test_rows_for_companies_the_importer_cannot_edit(demo: Api) -> None:
    customer_b = await Company.get(name="Customer #B")
    await make_contract(customer_b, "Existing")
    response = await export(demo, "contracts", "user1")
    rows = rows_of(response.content)
    # Identical rows are unchanged even when read-only
    result = await upload(demo, response.content, as_user="user1", mutation="contractImport")
    assert (result["unchanged"], result["rejected"]) == (1, 0)
    rows[1][2] = "Changed"
    rows.append(contract_row("New", "Customer #B"))
    result = await upload(demo, to_csv(rows), as_user="user1", mutation="contractImport")
    assert {(e["line"], e["code"]) for e in result["rowErrors"]} == {
        (2, "FORBIDDEN"),
        (3, "FORBIDDEN"),
    }
    assert await Contract.all().count() == 1


async def test_related_contracts_column(demo: Api) -> None:
    customer_a = await Company.get(name="Customer #A")
    base = await make_contract(customer_a, "Base")
    far = await make_company("Far", manager=await User.get(username="admin"))
    hidden = await make_contract(far, "Hidden")
    rows = [
        list(CONTRACT_COLUMNS),
        contract_row("Renewal", "Customer #A", related_contract=str(base.id)),
    ]
    result = await upload(demo, to_csv(rows), as_user="user1", mutation="contractImport")
    assert (result["created"], result["rowErrors"]) == (1, [])
    renewal = await Contract.get(reference="Renewal")
    assert await ContractLink.filter(contract_id=base.id, related_id=renewal.id).exists()
    # A contract user1 cannot see cannot be linked; an existing link to it stays
    rows[1][11] = f"{base.id} {hidden.id}"
    result = await upload(demo, to_csv(rows), as_user="user1", mutation="contractImport")
    assert [(e["field"], e["code"]) for e in result["rowErrors"]] == [
        ("related contract", "NOT_FOUND")
    ]
    await ContractLink.create(contract=renewal, related=hidden)
    rows[1][11] = ""
    result = await upload(demo, to_csv(rows), as_user="user1", mutation="contractImport")
    assert result["updated"] == 1
    assert await ContractLink.all().values_list("contract_id", "related_id") == [
        (renewal.id, hidden.id)
    ]


async def test_the_spec_example_row_imports_from_the_command_line(demo: Api, tmp_path) -> None:
    from tests.uvicorn_servers import run

    await release_field()
    company = await sample_customer()
    csv_file = tmp_path / "contracts.csv"
    csv_file.write_text(",".join([*CONTRACT_COLUMNS, "Release"]) + "\n" + SPEC_ROW + "\n")
    dry = run("import", "contracts", str(csv_file), "--dry-run", tmp_path=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert not await Contract.filter(reference="SAMPLE CUSTOMER 2021").exists()
    done = run("import", "contracts", str(csv_file), "--as", "admin", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    contract = await Contract.get(reference="SAMPLE CUSTOMER 2021")
    assert contract.company_id == company.id and contract.number == "21/1001"
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text(
        ",".join([*CONTRACT_COLUMNS, "Release"]) + "\n" + SPEC_ROW.replace("Beta", "Gamma") + "\n"
    )
    bad = run("import", "contracts", str(bad_file), tmp_path=tmp_path)
    assert bad.returncode == 1
