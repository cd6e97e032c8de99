"""Contracts and contract types over HTTP (SPEC §5): CRUD, the company rule plus the
private flag in lists and nested relations, search, copy, related objects, files."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from crm_graphql.models.activities import Activity
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink
from crm_graphql.models.contracts import ContractType as ContractTypeModel
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.invoices import Invoice, InvoiceKind
from crm_graphql.models.users import User
from tests.contracts_api import CREATE, DELETE, FIELDS, UPDATE, create, created
from tests.factories import (
    Api,
    company_id,
    error_codes,
    make_company,
    make_contract,
    make_invoice,
    make_user,
)
from tests.files_api import uploaded

COPY = f"""mutation($id: ID!, $begin: Date!, $end: Date, $ref: String!) {{
  contractCopy(id: $id, dateBegin: $begin, dateEnd: $end, reference: $ref) {{
    contract {{ {FIELDS} }} errors {{ field code message }} }}
}}"""
LIST = """query($filter: ContractFilter, $order: [ContractOrder!]) {
  contracts(filter: $filter, orderBy: $order) {
    totalCount edges { node { reference status private company { name } } } }
}"""
ONE = "query($id: ID!) { contract(id: $id) { reference } }"
NESTED = """query($id: ID!) { company(id: $id) { contractCount
  contracts(first: 5) { totalCount edges { node { reference } } } } }"""


def refs(data: dict[str, Any]) -> list[str]:
    return [e["node"]["reference"] for e in data["contracts"]["edges"]]


async def test_create_read_update_delete_with_activities(demo: Api) -> None:
    # Given user1 manages Customer #A
    contract = await created(
        demo,
        "user1",
        "Customer #A",
        number="21/1001",
        dateEnd="2024-12-31",
        description="Yearly support",
        slaId=4,
        groupId=2,
    )
    assert contract["owner"]["username"] == "user1"
    assert contract["status"] == "ACTIVE"
    assert contract["company"]["name"] == "Customer #A"
    assert contract["viewerCan"] == {"edit": True, "delete": True}
    assert contract["slaId"] == 4 and contract["groupId"] == 2
    company = await Company.get(name="Customer #A")
    texts = await Activity.filter(company_id=company.id).values_list("text", flat=True)
    assert "Contract Support 2024 created." in texts
    assert company.last_activity_at is not None
    # When it is updated
    data = await demo.data(
        UPDATE,
        {"input": {"id": contract["id"], "version": 1, "status": "PENDING", "number": None}},
        as_user="user1",
    )
    updated = data["contractUpdate"]
    assert updated["errors"] == []
    assert updated["contract"]["status"] == "PENDING"
    assert updated["contract"]["number"] is None
    assert updated["contract"]["version"] == 2
    # A stale version is refused
    stale = await demo.data(
        UPDATE, {"input": {"id": contract["id"], "version": 1, "reference": "x"}}, as_user="user1"
    )
    assert stale["contractUpdate"]["errors"][0]["code"] == "STALE"
    # Nested under the company, whatever the status
    nested = await demo.data(NESTED, {"id": str(company.id)}, as_user="user1")
    assert nested["company"]["contractCount"] == 1
    assert nested["company"]["contracts"]["totalCount"] == 1
    # When it is deleted
    data = await demo.data(DELETE, {"id": contract["id"]}, as_user="user1")
    assert data["contractDelete"] == {"deletedId": contract["id"], "errors": []}
    assert not await Contract.exists()
    texts = await Activity.filter(company_id=company.id).values_list("text", flat=True)
    assert {"Contract Support 2024 updated.", "Contract Support 2024 deleted."} <= set(texts)
    actions = await AuditEntry.filter(object_type="Contract").values_list("action", flat=True)
    assert sorted(actions) == ["CREATE", "DELETE", "REJECTED", "UPDATE"]  # REJECTED: stale


async def test_bad_input_is_a_payload_error_and_writes_nothing(demo: Api) -> None:
    await created(demo, "user1", "Customer #A", number="N-1")
    activities = await Activity.all().count()
    # Dates out of order
    result = await create(
        demo,
        "user1",
        "Customer #A",
        reference="Other",
        dateBegin="2024-05-01",
        dateEnd="2024-04-30",
    )
    assert result["contract"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("dateEnd", "INVALID")]
    # Duplicate reference in the same company, duplicate number anywhere
    result = await create(demo, "user1", "Customer #A", number="N-1")
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("reference", "UNIQUE"),
        ("number", "UNIQUE"),
    }
    # The same reference in another company is fine, the number is not
    result = await create(demo, "manager1", "Customer #B", number="N-1")
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("number", "UNIQUE")]
    # An empty reference, an unknown type and owner
    result = await create(
        demo, "user1", "Customer #A", reference=" ", contractTypeId="999", ownerId="999"
    )
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("reference", "REQUIRED"),
        ("contractTypeId", "NOT_FOUND"),
        ("ownerId", "NOT_FOUND"),
    }
    assert await Contract.all().count() == 1
    assert await Activity.all().count() == activities
    # The audit log tells who tried, and why
    rejected = await AuditEntry.filter(object_type="Contract", action="REJECTED").order_by("id")
    assert len(rejected) == 4 and {r.username for r in rejected} == {"user1", "manager1"}
    assert rejected[0].changes["operation"] == "contractCreate"
    assert rejected[0].changes["errors"][0]["field"] == "dateEnd"
    # Updating the end date before the start
    contract = await Contract.get()
    data = await demo.data(
        UPDATE, {"input": {"id": str(contract.id), "dateEnd": "2023-01-01"}}, as_user="user1"
    )
    assert data["contractUpdate"]["errors"][0]["field"] == "dateEnd"
    assert (await Contract.get()).date_end is None


async def test_private_contracts_follow_the_managers_company(demo: Api) -> None:
    # Given a private and a public contract of Customer #B (managed by manager1), and
    # Bob, who belongs to Customer #B and so can see it by another rule
    private = await created(demo, "manager1", "Customer #B", reference="Secret", private=True)
    await created(demo, "manager1", "Customer #B", reference="Public")
    customer_b = await Company.get(name="Customer #B")
    await make_user("bob", bits=("CR", "CW"), company=customer_b)
    demo.tokens["bob"] = await demo.login("bob", "bob-pass")
    # The manager and user1 (same company as the manager) see both
    for user in ("manager1", "user1", "admin"):
        data = await demo.data(LIST, as_user=user)
        assert sorted(refs(data)) == ["Public", "Secret"], user
        assert data["contracts"]["totalCount"] == 2
        nested = await demo.data(NESTED, {"id": str(customer_b.id)}, as_user=user)
        assert nested["company"]["contractCount"] == 2
    # Bob sees the company and the public contract only: in lists, by id, nested
    data = await demo.data(LIST, as_user="bob")
    assert refs(data) == ["Public"] and data["contracts"]["totalCount"] == 1
    nested = await demo.data(NESTED, {"id": str(customer_b.id)}, as_user="bob")
    assert nested["company"]["contractCount"] == 1
    assert [e["node"]["reference"] for e in nested["company"]["contracts"]["edges"]] == ["Public"]
    body = await demo.gql(ONE, {"id": private["id"]}, as_user="bob")
    assert error_codes(body) == ["NOT_FOUND"]
    # and he cannot edit it either (NOT_FOUND, nothing revealed)
    data = await demo.data(
        UPDATE, {"input": {"id": private["id"], "reference": "x"}}, as_user="bob"
    )
    assert data["contractUpdate"]["errors"][0]["code"] == "NOT_FOUND"
    # user2 has no CRM bits: no contracts at all
    body = await demo.gql(LIST, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]


async def test_user1_views_but_cannot_edit_customer_b_contracts(demo: Api) -> None:
    contract = await created(demo, "manager1", "Customer #B")
    data = await demo.data(
        "query($id: ID!) { contract(id: $id) { reference viewerCan { edit } } }",
        {"id": contract["id"]},
        as_user="user1",
    )
    assert data["contract"] == {"reference": "Support 2024", "viewerCan": {"edit": False}}
    body = await demo.gql(
        UPDATE, {"input": {"id": contract["id"], "reference": "x"}}, as_user="user1"
    )
    assert error_codes(body) == ["FORBIDDEN"]
    body = await demo.gql(
        CREATE,
        {
            "input": {
                "companyId": await company_id("Customer #B"),
                "reference": "M",
                "dateBegin": "2024-01-01",
            }
        },
        as_user="user1",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await Contract.all().count() == 1


async def test_contract_types_and_their_custom_fields(demo: Api) -> None:
    data = await demo.data("{ contractTypes { id name } }", as_user="user1")
    assert [t["name"] for t in data["contractTypes"]] == ["Product contract", "Services contract"]
    # Only CM manages types
    body = await demo.gql(
        'mutation { contractTypeCreate(input: {name: "Lease"}) { errors { code } } }',
        as_user="user1",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    made = await demo.data(
        'mutation { contractTypeCreate(input: {name: "Lease", description: "Rent"}) '
        "{ contractType { id name } errors { field code } } }",
        as_user="manager1",
    )
    lease = made["contractTypeCreate"]["contractType"]
    dup = await demo.data(
        'mutation { contractTypeCreate(input: {name: "Lease"}) { errors { field code } } }',
        as_user="manager1",
    )
    assert dup["contractTypeCreate"]["errors"] == [{"field": "name", "code": "UNIQUE"}]
    field = await demo.data(
        """mutation($owner: ID!) { customFieldCreate(input: {entity: CONTRACT, ownerId: $owner,
           name: "Release", kind: COMBO, options: ["Alpha", "Beta"], showInList: true})
           { customField { id } errors { code } } }""",
        {"owner": lease["id"]},
        as_user="manager1",
    )
    field_id = field["customFieldCreate"]["customField"]["id"]
    data = await demo.data(
        "{ contractTypes { name customFields { name } listFields { name } } }", as_user="user1"
    )
    by_name = {t["name"]: t for t in data["contractTypes"]}
    assert by_name["Lease"]["listFields"] == [{"name": "Release"}]
    # A contract of that type validates its values
    bad = await create(
        demo,
        "user1",
        "Customer #A",
        contractTypeId=lease["id"],
        customFields=[{"fieldId": field_id, "value": "Gamma"}],
    )
    assert bad["errors"][0]["field"] == "customFields.Release"
    assert not await Contract.exists()
    good = await created(
        demo,
        "user1",
        "Customer #A",
        contractTypeId=lease["id"],
        customFields=[{"fieldId": field_id, "value": "Beta"}],
    )
    assert good["contractType"]["name"] == "Lease"
    assert good["customFields"] == [{"name": "Release", "value": "Beta"}]
    # Search finds it by its custom value; a type in use cannot be deleted
    data = await demo.data(LIST, {"filter": {"search": "bet"}}, as_user="user1")
    assert refs(data) == ["Support 2024"]
    delete = await demo.data(
        "mutation($id: ID!) { contractTypeDelete(id: $id) { errors { code } } }",
        {"id": lease["id"]},
        as_user="manager1",
    )
    assert delete["contractTypeDelete"]["errors"] == [{"code": "CONFLICT"}]
    # Changing the type drops the old type's values
    data = await demo.data(
        UPDATE,
        {"input": {"id": good["id"], "contractTypeId": "1"}},
        as_user="user1",
    )
    assert data["contractUpdate"]["contract"]["customFields"] == []
    delete = await demo.data(
        "mutation($id: ID!) { contractTypeDelete(id: $id) { deletedId errors { code } } }",
        {"id": lease["id"]},
        as_user="manager1",
    )
    assert delete["contractTypeDelete"]["errors"] == []
    assert not await CustomField.filter(entity=CustomFieldEntity.CONTRACT).exists()
    assert not await ContractTypeModel.filter(name="Lease").exists()


async def test_search_and_filters(demo: Api) -> None:
    today = date.today()
    await created(
        demo,
        "user1",
        "Customer #A",
        reference="Ending soon",
        number="A-7",
        dateBegin=str(today - timedelta(days=300)),
        dateEnd=str(today + timedelta(days=10)),
    )
    await created(
        demo, "user1", "Customer #A", reference="Old", status="INACTIVE", dateBegin="2020-01-01"
    )
    await created(
        demo,
        "manager1",
        "Customer #B",
        reference="Pending B",
        status="PENDING",
        dateBegin="2025-03-01",
        dateEnd="2026-03-01",
    )

    async def found(flt: dict[str, Any] | None) -> list[str]:
        return sorted(refs(await demo.data(LIST, {"filter": flt}, as_user="manager1")))

    # Without a status condition: ACTIVE only
    assert await found(None) == ["Ending soon"]
    assert await found({"status": {"in": ["ACTIVE", "INACTIVE", "PENDING"]}}) == [
        "Ending soon",
        "Old",
        "Pending B",
    ]
    assert await found({"or": [{"status": {"eq": "PENDING"}}, {"reference": {"eq": "Old"}}]}) == [
        "Old",
        "Pending B",
    ]
    assert await found({"search": "a-7"}) == ["Ending soon"]
    assert await found({"search": "customer #b", "status": {"eq": "PENDING"}}) == ["Pending B"]
    assert await found({"endingWithinDays": 30}) == ["Ending soon"]
    assert await found({"endingWithinDays": 5}) == []
    every = {"status": {"in": ["ACTIVE", "INACTIVE", "PENDING"]}}
    assert await found({**every, "dateBegin": {"gte": "2025-01-01", "lt": "2025-12-31"}}) == [
        "Pending B"
    ]
    assert await found({**every, "dateEnd": {"isNull": True}}) == ["Old"]
    customer = (await Company.get(name="Customer #A")).role_id
    assert await found({**every, "company": {"role": {"eq": str(customer)}}}) == [
        "Ending soon",
        "Old",
        "Pending B",
    ]
    assert await found({**every, "company": {"name": {"eq": "Customer #A"}}}) == [
        "Ending soon",
        "Old",
    ]
    ordered = await demo.data(
        LIST,
        {"filter": every, "order": [{"field": "DATE_BEGIN", "direction": "ASC"}]},
        as_user="manager1",
    )
    assert refs(ordered) == ["Old", "Pending B", "Ending soon"]


async def test_copy_and_related_objects(demo: Api) -> None:
    source = await created(
        demo, "user1", "Customer #A", number="C-1", dateEnd="2024-12-31", private=True, slaId=3
    )
    data = await demo.data(
        COPY,
        {"id": source["id"], "begin": "2025-01-01", "end": "2025-12-31", "ref": "Support 2025"},
        as_user="user1",
    )
    copy = data["contractCopy"]
    assert copy["errors"] == []
    assert copy["contract"]["reference"] == "Support 2025"
    assert copy["contract"]["number"] is None
    assert copy["contract"]["private"] is True and copy["contract"]["slaId"] == 3
    assert copy["contract"]["relatedContracts"] == [{"reference": "Support 2024"}]
    # Bad dates and a taken reference are refused
    data = await demo.data(
        COPY,
        {"id": source["id"], "begin": "2025-01-01", "end": "2024-12-31", "ref": "Support 2025"},
        as_user="user1",
    )
    assert {e["field"] for e in data["contractCopy"]["errors"]} == {"dateEnd", "reference"}
    # Related contracts: replaced as a set, stored once per pair, only visible ones
    other = await created(demo, "user1", "Customer #A", reference="Hardware")
    data = await demo.data(
        UPDATE,
        {
            "input": {
                "id": other["id"],
                "relatedContractIds": [source["id"], copy["contract"]["id"]],
            }
        },
        as_user="user1",
    )
    assert sorted(
        r["reference"] for r in data["contractUpdate"]["contract"]["relatedContracts"]
    ) == [
        "Support 2024",
        "Support 2025",
    ]
    assert await ContractLink.all().count() == 3
    # A contract user1 cannot see (a company without parent, managed by admin) can
    # neither be linked by user1 nor is its existing link dropped by user1's update
    far = await make_company("Far", manager=await User.get(username="admin"))
    hidden = await make_contract(far, "Far 1")
    data = await demo.data(
        UPDATE,
        {"input": {"id": other["id"], "relatedContractIds": [str(hidden.id)]}},
        as_user="user1",
    )
    assert data["contractUpdate"]["errors"][0]["field"] == "relatedContractIds"
    await ContractLink.create(contract_id=int(other["id"]), related=hidden)
    data = await demo.data(
        UPDATE, {"input": {"id": other["id"], "relatedContractIds": []}}, as_user="user1"
    )
    assert data["contractUpdate"]["contract"]["relatedContracts"] == []
    assert await ContractLink.filter(related_id=hidden.id).count() == 1
    # Related invoices: visible ones, replaced as a set
    company = await Company.get(name="Customer #A")
    invoice = await make_invoice(
        company, kind=InvoiceKind.RECEIVED, bill_id="R-1", issued_on=date(2024, 2, 1)
    )
    data = await demo.data(
        UPDATE,
        {"input": {"id": other["id"], "relatedInvoiceIds": [str(invoice.id)]}},
        as_user="user1",
    )
    assert data["contractUpdate"]["errors"] == []
    assert await ContractInvoice.filter(contract_id=int(other["id"])).count() == 1
    data = await demo.data(
        UPDATE, {"input": {"id": other["id"], "relatedInvoiceIds": []}}, as_user="user1"
    )
    assert not await ContractInvoice.exists()


async def test_files_on_contracts(demo: Api) -> None:
    contract = await created(demo, "manager1", "Customer #B", private=True)
    stored = await uploaded(demo, "manager1", contract["id"], kind="CONTRACT")
    assert stored["ownerKind"] == "CONTRACT"
    query = (
        """query($id: ID!) { contract(id: $id) { files { totalCount edges { node { id } } } } }"""
    )
    data = await demo.data(query, {"id": contract["id"]}, as_user="user1")
    assert data["contract"]["files"]["totalCount"] == 1
    # Bob sees Customer #B but not its private contract, nor its files
    customer_b = await Company.get(name="Customer #B")
    await make_user("bob", bits=("CR", "CW"), company=customer_b)
    demo.tokens["bob"] = await demo.login("bob", "bob-pass")
    body = await demo.gql(
        "query($id: ID!) { file(id: $id) { id } }", {"id": stored["id"]}, as_user="bob"
    )
    assert error_codes(body) == ["NOT_FOUND"]
    response = await demo.client.get(
        stored["downloadUrl"], headers={"Authorization": f"Bearer {demo.tokens['bob']}"}
    )
    assert response.status_code == 404
    # user1 cannot attach to a Customer #B contract (no edit access)
    from tests.files_api import upload

    body = await upload(demo, "user1", contract["id"], kind="CONTRACT")
    assert error_codes(body) == ["FORBIDDEN"]
    # Deleting the contract deletes its files
    await demo.data(DELETE, {"id": contract["id"]}, as_user="manager1")
    body = await demo.gql(
        "query($id: ID!) { file(id: $id) { id } }", {"id": stored["id"]}, as_user="admin"
    )
    assert error_codes(body) == ["NOT_FOUND"]


async def test_generate_invoice_and_related_invoices(demo: Api) -> None:
    contract = await created(demo, "user1", "Customer #A", number="21/1001")
    query = """mutation($id: ID!) { contractGenerateInvoice(id: $id) {
        invoice { id billId company { name } } contract { reference } errors { field code } } }"""
    data = await demo.data(query, {"id": contract["id"]}, as_user="user1")
    result = data["contractGenerateInvoice"]
    assert result["errors"] == [], result
    assert result["invoice"]["company"]["name"] == "Customer #A"
    related = """query($id: ID!) { contract(id: $id) {
        relatedInvoices(first: 5) { totalCount edges { node { id billId } } } } }"""
    data = await demo.data(related, {"id": contract["id"]}, as_user="user1")
    invoices = data["contract"]["relatedInvoices"]
    assert invoices["totalCount"] == 1
    assert invoices["edges"][0]["node"]["id"] == result["invoice"]["id"]
    # Without invoice bits: refused; a hidden contract: NOT_FOUND
    body = await demo.gql(query, {"id": contract["id"]}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    data = await demo.data(query, {"id": "99999"}, as_user="user1")
    assert data["contractGenerateInvoice"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    assert await Invoice.all().count() == 1


async def test_dashboard_shape_statement_count_is_fixed(demo: Api) -> None:
    from crm_graphql.services.sqlcount import count_statements

    query = """{ companies(first: 20) { edges { node { name contractCount
        contracts(first: 5) { edges { node { reference contractType { name }
        relatedInvoices(first: 5) { edges { node { billId } } } } } } } } } }"""

    async def statements() -> int:
        with count_statements() as seen:
            await demo.data(query, as_user="admin")
        return len(seen)

    company = await Company.get(name="Customer #A")
    contract = await make_contract(company, "R0")
    invoice = await make_invoice(
        company, kind=InvoiceKind.RECEIVED, bill_id="B0", issued_on=date(2024, 1, 2)
    )
    await ContractInvoice.create(contract=contract, invoice=invoice)
    await statements()  # the token's last use is written once
    few = await statements()
    for n in range(1, 8):
        c = await make_contract(company, f"R{n}")
        for m in range(3):
            i = await make_invoice(
                company=company,
                kind=InvoiceKind.RECEIVED,
                bill_id=f"B{n}-{m}",
                issued_on=date(2024, 1, 2),
            )
            await ContractInvoice.create(contract=c, invoice=i)
    assert await statements() == few
