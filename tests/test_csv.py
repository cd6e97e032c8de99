"""CSV export (GET /export/*.csv) and import (companyImport, contactImport, the CLI)
over HTTP, in the SPEC §2 world."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldValue,
)
from crm_graphql.models.users import User
from crm_graphql.services.csvio import (
    CsvFileError,
    check_encoding,
    header_problem,
    neutralise,
    read_rows,
    restore,
)
from crm_graphql.services.exports.companies import COMPANY_COLUMNS
from crm_graphql.services.exports.contacts import CONTACT_COLUMNS
from tests.csvdata import (
    SPEC_COLUMNS,
    company_row,
    export,
    import_mutation,
    rows_of,
    to_csv,
    upload,
)
from tests.factories import (
    Api,
    make_billing,
    make_company,
    make_contact,
    make_custom_field,
    make_custom_value,
)
from tests.uvicorn_servers import run


async def custom_fields() -> tuple[CustomField, CustomField]:
    size = await make_custom_field(
        entity=CustomFieldEntity.COMPANY,
        name="Size",
        kind=CustomFieldKind.COMBO,
        options=["Small", "Large"],
        position=1,
    )
    since = await make_custom_field(
        entity=CustomFieldEntity.COMPANY,
        name="Customer since",
        kind=CustomFieldKind.DATE,
        position=2,
    )
    return size, since


# ------------------------------------------------------------------- the CSV rules


def test_neutralise_and_restore_are_exact_inverses() -> None:
    for value in ["=1+2", "+34 600", "-5", "@SUM(A1)", "\tx", "\rx", "'quoted", "''", "plain", ""]:
        written = neutralise(value)
        assert restore(written) == value
    assert neutralise("=cmd") == "'=cmd"
    assert neutralise("plain") == "plain"
    assert neutralise("'x") == "''x"


def test_reader_reports_encoding_and_header_problems() -> None:
    latin = io.BytesIO("name\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(CsvFileError, match=r"not UTF-8.*line 2"):
        check_encoding(latin)
    bom = io.BytesIO(b'\xef\xbb\xbfa,b\r\n1,"x\r\ny"\r\n\r\n3,4\r\n')
    check_encoding(bom)
    assert list(read_rows(bom)) == [(1, ["a", "b"]), (2, ["1", "x\r\ny"]), (5, ["3", "4"])]
    assert header_problem(["A ", "b"], ["a", "b"]) is None
    assert "missing 'b'" in (header_problem(["a"], ["a", "b"]) or "")
    assert "unexpected 'c'" in (header_problem(["a", "b", "c"], ["a", "b"]) or "")
    assert "column 1 is 'b'" in (header_problem(["b", "a"], ["a", "b"]) or "")


# ------------------------------------------------------------------------ export


async def test_export_returns_exactly_the_visible_companies(demo: Api) -> None:
    # Given the SPEC §2 world, when each user exports the companies:
    expected = {
        "admin": {"My company", "Customer #A", "Customer #B"},
        "user1": {"Customer #A", "Customer #B"},
        "manager1": {"Customer #A", "Customer #B"},
    }
    for username, names in expected.items():
        response = await export(demo, "companies", username)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = rows_of(response.content)
        assert rows[0] == SPEC_COLUMNS
        assert {r[0] for r in rows[1:]} == names, username
    # user2 has no CR: no CRM data at all.
    denied = await export(demo, "companies", "user2")
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await AuditEntry.filter(action="DENIED", object_type="Export").exists()
    assert (await export(demo, "contacts", "user2")).status_code == 403
    anonymous = await export(demo, "companies", None)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_export_columns_and_values(demo: Api) -> None:
    size, _ = await custom_fields()
    customer_a = await Company.get(name="Customer #A")
    mine = await Company.get(name="My company")
    await Company.filter(id=customer_a.id).update(fiscal_id="B-123", office_phone="+34 600 000 000")
    await make_billing(customer_a, 123456, "EUR")
    await make_billing(customer_a, 100, "JPY")
    await make_custom_value(size, customer_a.id, "Large")
    response = await export(demo, "companies", "admin")
    rows = rows_of(response.content)
    assert rows[0] == [*SPEC_COLUMNS, "Size", "Customer since"]
    row = dict(zip(rows[0], next(r for r in rows if r[0] == "Customer #A"), strict=True))
    assert row["id parent"] == str(mine.id)
    assert row["manager"] == "user1"
    assert row["fiscal id"] == "B-123"
    assert row["billing"] == "1234.56 EUR; 1.00 JPY"  # per currency, never added
    assert row["payment conditions"] == "30"
    assert row["office phone"] == "'+34 600 000 000"  # neutralised
    assert row["Size"] == "Large"
    assert row["Customer since"] == ""
    assert row["last update"].endswith("+00:00")


async def test_export_filter_parameter(demo: Api) -> None:
    response = await export(
        demo, "companies", "admin", filter=json.dumps({"name": {"contains": "#a"}})
    )
    assert [r[0] for r in rows_of(response.content)[1:]] == ["Customer #A"]
    nested = json.dumps(
        {"or": [{"name": {"eq": "My company"}}, {"manager": {"username": {"eq": "manager1"}}}]}
    )
    response = await export(demo, "companies", "user1", filter=nested)
    assert [r[0] for r in rows_of(response.content)[1:]] == ["Customer #B"]
    contacts_filter = json.dumps({"company": {"name": {"eq": "Customer #A"}}})
    assert (await export(demo, "contacts", "admin", filter=contacts_filter)).status_code == 200
    for bad, words in [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        (json.dumps({"nme": {"eq": "x"}}), "nme"),
        (json.dumps({"lastUpdate": {"gte": "yesterday"}}), "lastUpdate.gte"),
        (json.dumps({"id": {"eq": "abc"}}), "not a valid id"),
    ]:
        response = await export(demo, "companies", "admin", filter=bad)
        assert response.status_code == 400, bad
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert words in error["message"], (bad, error)


async def test_formulas_are_neutralised_and_quoting_round_trips(demo: Api) -> None:
    # Given a company whose name has a comma, a quote and a line break, and formulas:
    tricky = 'Acme, "The Best"\r\nLtd'
    await make_company(
        name=tricky,
        comments='=HYPERLINK("http://evil","x")',
        website="@SUM(1+1)",
        address="-2+3",
        country="'quoted",
        path="",
    )
    response = await export(demo, "companies", "admin")
    text = response.content.decode()
    assert '"Acme, ""The Best""\r\nLtd"' in text
    assert "'=HYPERLINK" in text and "'@SUM" in text and "'-2+3" in text
    assert "''quoted" in text
    for line in text.split("\r\n"):
        for cell in next(csv.reader([line]), []):
            assert not cell or cell[0] not in "=+-@", line
    row = next(r for r in rows_of(response.content) if r[0] == tricky)
    assert row[0] == tricky
    # When it is imported back, nothing changes.
    result = await upload(demo, response.content)
    assert (result["created"], result["updated"], result["rejected"]) == (0, 0, 0)
    assert result["unchanged"] == 4


# ------------------------------------------------------------------------ import


async def test_export_import_round_trip_is_a_no_op(demo: Api) -> None:
    _, since = await custom_fields()
    customer_b = await Company.get(name="Customer #B")
    await make_custom_value(since, customer_b.id, "2021-03-04")
    first = await export(demo, "companies", "admin")
    audit_before = await AuditEntry.all().count()
    result = await upload(demo, first.content)
    assert result["errors"] == [] and result["rowErrors"] == []
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3)
    assert result["written"] is True
    second = await export(demo, "companies", "admin")
    assert second.content == first.content
    # Only the import's summary entry was written.
    entries = await AuditEntry.filter(id__gt=audit_before).values_list("action", flat=True)
    assert entries == ["IMPORT"]
    # The same holds for a user who sees companies they cannot edit (Customer #B, and
    # Customer #A's parent which they cannot see at all).
    mine = await export(demo, "companies", "user1")
    result = await upload(demo, mine.content, as_user="user1")
    assert (result["unchanged"], result["rejected"]) == (2, 0), result


async def test_import_creates_updates_and_sets_paths(demo: Api) -> None:
    size, _ = await custom_fields()
    customer_a = await Company.get(name="Customer #A")
    rows = [
        [*SPEC_COLUMNS, "Size", "Customer since"],
        [
            *company_row(
                "Child of A",
                id_parent=str(customer_a.id),
                manager="manager1",
                fiscal_id="F-1",
                general_email="info@child.example",
                payment_conditions="60",
            ),
            "Small",
            "2020-01-02",
        ],
        [*company_row("Top level"), "", ""],
        [
            *company_row(
                "Customer #A",
                id_parent=str(customer_a.parent_id),
                manager="user1",
                country="France",
                id_company_role=str(customer_a.role_id),
            ),
            "Large",
            "",
        ],
    ]
    result = await upload(demo, to_csv(rows))
    assert (result["created"], result["updated"], result["unchanged"], result["rejected"]) == (
        2,
        1,
        0,
        0,
    ), result
    child = await Company.get(name="Child of A").prefetch_related("manager")
    assert child.path == f"{customer_a.path}{child.id}/"
    assert child.manager.username == "manager1"
    assert child.payment_conditions == 60 and child.fiscal_id == "F-1"
    top = await Company.get(name="Top level")
    assert top.path == f"/{top.id}/"
    admin = await User.get(username="admin")
    assert top.manager_id == admin.id  # as companyCreate: the importer manages it
    updated = await Company.get(id=customer_a.id)
    assert updated.country == "France" and updated.version == customer_a.version + 1
    values = dict(
        await CustomFieldValue.filter(object_id=customer_a.id).values_list("field_id", "value")
    )
    assert values == {size.id: "Large"}
    actions = await AuditEntry.filter(object_type="Company").values_list("action", flat=True)
    assert sorted(actions) == ["CREATE", "CREATE", "IMPORT", "UPDATE"]
    update = await AuditEntry.get(action="UPDATE", object_type="Company")
    assert update.changes["country"] == ["Spain", "France"]
    assert update.changes["custom_fields"] == {"Size": [None, "Large"]}


async def test_dry_run_writes_nothing(demo: Api) -> None:
    rows = [SPEC_COLUMNS, company_row("New one"), company_row("Customer #A", country="X")]
    before = await AuditEntry.all().count()
    result = await upload(demo, to_csv(rows), dry_run=True)
    assert (result["created"], result["updated"], result["rejected"]) == (1, 1, 0)
    assert result["dryRun"] is True and result["written"] is False
    assert not await Company.filter(name="New one").exists()
    assert (await Company.get(name="Customer #A")).country == "Spain"
    assert await AuditEntry.all().count() == before


def _bad_file(parent_id: int) -> bytes:
    rows = [
        [*SPEC_COLUMNS, "Size", "Customer since"],
        [*company_row("Good one"), "Small", ""],  # line 2
        [*company_row("Bad mail", general_email="not-an-email"), "", ""],  # 3
        [*company_row("No manager", manager="nobody"), "", ""],  # 4
        [*company_row("No parent", id_parent="999999"), "", ""],  # 5
        [*company_row("Good one"), "", ""],  # 6: duplicate name
        [*company_row("Bad size"), "Huge", ""],  # 7
        [*company_row("Good two", id_parent=str(parent_id)), "", "2024-02-29"],  # 8
    ]
    return to_csv(rows)


async def test_bad_rows_are_reported_and_nothing_is_written(demo: Api) -> None:
    await custom_fields()
    mine = await Company.get(name="My company")
    count = await Company.all().count()
    result = await upload(demo, _bad_file(mine.id))
    assert result["written"] is False
    assert (result["created"], result["rejected"]) == (2, 5)
    found = {(e["line"], e["field"], e["code"]) for e in result["rowErrors"]}
    assert found == {
        (3, "general email", "INVALID"),
        (4, "manager", "NOT_FOUND"),
        (5, "id parent", "NOT_FOUND"),
        (6, "name", "UNIQUE"),
        (7, "Size", "INVALID"),
    }
    assert "line 2" in next(e["message"] for e in result["rowErrors"] if e["line"] == 6)
    assert await Company.all().count() == count
    assert not await AuditEntry.filter(action="IMPORT").exists()


async def test_partial_import_writes_the_good_rows(demo: Api) -> None:
    await custom_fields()
    mine = await Company.get(name="My company")
    result = await upload(demo, _bad_file(mine.id), partial=True)
    assert result["written"] is True
    assert (result["created"], result["rejected"]) == (2, 5)
    assert len(result["rowErrors"]) == 5
    assert await Company.filter(name__in=["Good one", "Good two"]).count() == 2
    two = await Company.get(name="Good two")
    assert two.path == f"{mine.path}{two.id}/"
    assert not await Company.filter(name__in=["Bad mail", "No manager", "Bad size"]).exists()
    summary = await AuditEntry.get(action="IMPORT")
    assert summary.changes["created"] == 2 and summary.changes["rejected"] == 5


async def test_wrong_header_and_latin1_are_file_errors(demo: Api) -> None:
    misordered = [SPEC_COLUMNS[1], SPEC_COLUMNS[0], *SPEC_COLUMNS[2:]]
    for header, words in [
        (SPEC_COLUMNS[:-1], "missing 'general email'"),
        ([*SPEC_COLUMNS, "extra"], "unexpected 'extra'"),
        (misordered, "column 1 is 'address'"),
    ]:
        result = await upload(demo, to_csv([header, company_row("X")[: len(header)]]))
        assert result["written"] is False
        assert [e["field"] for e in result["errors"]] == ["file"]
        assert words in result["errors"][0]["message"]
        assert "name, address, fiscal id" in result["errors"][0]["message"]
    latin = to_csv([SPEC_COLUMNS, company_row("Café")]).decode().encode("latin-1")
    result = await upload(demo, latin)
    assert "not UTF-8" in result["errors"][0]["message"]
    assert "line 2" in result["errors"][0]["message"]
    assert not await Company.filter(name="Café").exists()
    result = await upload(demo, b"")
    assert "empty" in result["errors"][0]["message"]
    # A byte order mark is fine.
    result = await upload(demo, b"\xef\xbb\xbf" + to_csv([SPEC_COLUMNS, company_row("Café")]))
    assert result["created"] == 1 and result["written"] is True


async def test_a_row_for_a_company_the_importer_cannot_edit_is_refused(demo: Api) -> None:
    # user1 sees Customer #B (a colleague's) but cannot edit it.
    exported = rows_of((await export(demo, "companies", "user1")).content)
    for row in exported[1:]:
        row[1] = "New address"
    result = await upload(demo, to_csv(exported), as_user="user1", partial=True)
    assert (result["updated"], result["rejected"]) == (1, 1)
    error = result["rowErrors"][0]
    assert (error["field"], error["code"]) == ("name", "FORBIDDEN")
    assert (await Company.get(name="Customer #A")).address == "New address"
    assert (await Company.get(name="Customer #B")).address == ""
    # A hidden company's name cannot be taken either; changing a manager needs CM.
    rows = [SPEC_COLUMNS, company_row("My company"), company_row("Customer #A", manager="manager1")]
    result = await upload(demo, to_csv(rows), as_user="user1")
    assert {(e["line"], e["field"], e["code"]) for e in result["rowErrors"]} == {
        (2, "name", "UNIQUE"),
        (3, "manager", "FORBIDDEN"),
    }
    # Without CW the mutation itself is refused.
    operations = {
        "query": import_mutation("companyImport"),
        "variables": {"file": None, "dryRun": False, "partial": False},
    }
    response = await demo.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("x.csv", to_csv([SPEC_COLUMNS]), "text/csv")},
        headers={"Authorization": f"Bearer {demo.tokens['user2']}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_import_cannot_make_a_cycle(demo: Api) -> None:
    mine = await Company.get(name="My company")
    customer_a = await Company.get(name="Customer #A")
    rows = [SPEC_COLUMNS, company_row("My company", id_parent=str(customer_a.id), manager="admin")]
    result = await upload(demo, to_csv(rows))
    assert [(e["field"], e["code"]) for e in result["rowErrors"]] == [("id parent", "INVALID")]
    # Moving a company moves its subtree.
    rows = [
        SPEC_COLUMNS,
        company_row("Holding"),
    ]
    await upload(demo, to_csv(rows))
    holding = await Company.get(name="Holding")
    rows = [SPEC_COLUMNS, company_row("My company", id_parent=str(holding.id), manager="admin")]
    result = await upload(demo, to_csv(rows))
    assert result["updated"] == 1, result
    assert (await Company.get(id=mine.id)).path == f"/{holding.id}/{mine.id}/"
    assert (await Company.get(id=customer_a.id)).path == f"/{holding.id}/{mine.id}/{customer_a.id}/"


# ---------------------------------------------------------------------- contacts


async def test_contacts_export_import_round_trip(demo: Api) -> None:
    phone = await make_custom_field(
        entity=CustomFieldEntity.CONTACT, name="Birthday", kind=CustomFieldKind.DATE
    )
    customer_a = await Company.get(name="Customer #A")
    customer_b = await Company.get(name="Customer #B")
    ann = await make_contact(
        customer_a, "Ann", email="ann@a.example", phone="+1 555", disabled=True
    )
    await make_contact(customer_b, "Bob", email="bob@b.example")
    await make_custom_value(phone, ann.id, "1990-05-06")
    first = await export(demo, "contacts", "user1")
    rows = rows_of(first.content)
    assert rows[0] == [*CONTACT_COLUMNS, "Birthday"]
    assert rows[1] == [
        "Customer #A",
        "Ann",
        "ann@a.example",
        "'+1 555",
        "",
        "",
        "",
        "1",
        "1990-05-06",
    ]
    result = await upload(demo, first.content, as_user="user1", mutation="contactImport")
    assert (result["unchanged"], result["updated"], result["created"]) == (2, 0, 0), result
    assert (await export(demo, "contacts", "user1")).content == first.content
    # Changes: Ann's name (matched by e-mail, ignoring case), a new contact; Bob's
    # company is read-only for user1.
    rows[1][1] = "Ann Smith"
    rows[1][2] = "ANN@a.example"
    rows[2][1] = "Robert"
    rows.append(["Customer #A", "Cid", "cid@a.example", "", "", "", "", "0", "not a date"])
    rows.append(["Customer #A", "Dee", "dee@a.example", "", "", "Boss", "", "", ""])
    rows.append(["Nowhere Inc", "Eve", "eve@x.example", "", "", "", "", "0", ""])
    result = await upload(
        demo, to_csv(rows), as_user="user1", mutation="contactImport", partial=True
    )
    assert (result["updated"], result["created"], result["rejected"]) == (1, 1, 3), result
    assert {(e["line"], e["field"], e["code"]) for e in result["rowErrors"]} == {
        (3, "company", "FORBIDDEN"),
        (4, "Birthday", "INVALID"),
        (6, "company", "NOT_FOUND"),
    }
    ann = await Contact.get(id=ann.id)
    assert (ann.full_name, ann.email, ann.disabled) == ("Ann Smith", "ANN@a.example", True)
    dee = await Contact.get(email="dee@a.example")
    assert dee.company_id == customer_a.id and dee.position == "Boss"
    assert (await Contact.get(email="bob@b.example")).full_name == "Bob"


# ---------------------------------------------------------------------------- CLI


async def test_cli_import(demo: Api, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(to_csv([SPEC_COLUMNS, company_row("From CLI"), company_row("Customer #A")]))
    result = run("import", "companies", str(good), "--dry-run", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created: 1" in result.stdout and "dry run" in result.stdout.lower()
    assert not await Company.filter(name="From CLI").exists()

    result = run("import", "companies", str(good), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created: 1" in result.stdout
    made = await Company.get(name="From CLI")
    assert made.manager_id is None  # the system imported it
    assert made.path == f"/{made.id}/"

    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv([SPEC_COLUMNS, company_row("Other", manager="nobody")]))
    result = run("import", "companies", str(bad), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "line 2" in result.stdout and "manager" in result.stdout

    # --as: the user's rights apply (user1 may not edit Customer #B).
    edit_b = tmp_path / "b.csv"
    edit_b.write_bytes(to_csv([SPEC_COLUMNS, company_row("Customer #B", address="x")]))
    result = run("import", "companies", str(edit_b), "--as", "user1", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "FORBIDDEN" in result.stdout or "may not edit" in result.stdout

    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(
        to_csv(
            [
                list(CONTACT_COLUMNS),
                ["From CLI", "Zed", "zed@x.example", "", "", "", "", ""],
            ]
        )
    )
    result = run("import", "contacts", str(contacts), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert await Contact.filter(email="zed@x.example", company_id=made.id).exists()

    missing = run("import", "companies", str(tmp_path / "nope.csv"), tmp_path=tmp_path)
    assert missing.returncode != 0


def test_column_lists_match_the_spec() -> None:
    assert list(COMPANY_COLUMNS) == SPEC_COLUMNS
    assert CONTACT_COLUMNS[0] == "company"


async def test_exports_offer_a_byte_order_mark_for_spreadsheets(demo: Api) -> None:
    # Spreadsheet programs read a CSV without a BOM in the locale's code page and
    # garble accents; `bom=1` starts the file with EF BB BF, which they take as UTF-8.
    await Company.filter(name="Customer #A").update(name="Compañía Añil", country="España")
    for what in ("companies", "contacts", "contracts", "invoices", "leads"):
        marked = await export(demo, what, "admin", bom="1")
        assert marked.status_code == 200, what
        assert marked.content.startswith(b"\xef\xbb\xbf"), what
        plain = await export(demo, what, "admin")
        assert not plain.content.startswith(b"\xef\xbb\xbf"), what
        assert marked.content[3:] == plain.content, what
    body = (await export(demo, "companies", "admin", bom="1")).content
    assert "Compañía Añil" in body.decode("utf-8-sig")
    # What the export wrote imports back, BOM included.
    result = await upload(demo, body, dry_run=True)
    assert result["errors"] == [] and result["rejected"] == 0
