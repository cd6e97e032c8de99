"""Company and role mutations: validation, payload errors that name the field and leave
nothing half-written, the parent tree, optimistic concurrency, audit."""

from __future__ import annotations

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.customfields import CustomFieldValue
from tests.factories import Api, error_codes, make_billing

CREATE = """mutation($input: CompanyCreateInput!) {
  companyCreate(input: $input) {
    company { id name fiscalId country role { name } parent { name } manager { username }
              paymentConditions version billing { currency amount } contractCount openLeadCount
              customFields { name value } }
    errors { field code message }
  }
}"""
UPDATE = """mutation($input: CompanyUpdateInput!) {
  companyUpdate(input: $input) { company { id name version parent { name } manager { username } }
                                 errors { field code message } }
}"""


async def _id(name: str) -> str:
    return str((await Company.get(name=name)).id)


async def test_create_with_defaults_and_audit(demo: Api) -> None:
    role = await CompanyRole.get(name="Customer")
    result = (
        await demo.data(
            CREATE,
            {
                "input": {
                    "name": "  Acme  ",
                    "fiscalId": "B12345678",
                    "country": "Spain",
                    "roleId": str(role.id),
                    "parentId": await _id("Customer #A"),
                }
            },
            as_user="user1",
        )
    )["companyCreate"]
    assert result["errors"] == []
    company = result["company"]
    assert company["name"] == "Acme"
    assert company["manager"] == {"username": "user1"}
    assert company["parent"] == {"name": "Customer #A"}
    assert company["role"] == {"name": "Customer"}
    assert company["paymentConditions"] == 30
    assert (company["billing"], company["contractCount"], company["openLeadCount"]) == (
        [],
        0,
        0,
    )
    stored = await Company.get(name="Acme")
    parent = await Company.get(name="Customer #A")
    assert stored.path == f"{parent.path}{stored.id}/"
    entry = await AuditEntry.get(action="CREATE", object_type="Company", object_id=company["id"])
    assert entry.username == "user1" and entry.changes["name"] == "Acme"


async def test_create_reports_every_problem_and_writes_nothing(demo: Api) -> None:
    await Company.filter(name="Customer #A").update(fiscal_id="X-1")
    before = await Company.all().count()
    result = (
        await demo.data(
            CREATE,
            {
                "input": {
                    "name": "Customer #B",
                    "fiscalId": "X-1",
                    "generalEmail": "nope",
                    "paymentConditions": -1,
                    "managerId": "424242",
                    "parentId": await _id("My company"),  # hidden from user1
                    "roleId": "abc",
                }
            },
            as_user="user1",
        )
    )["companyCreate"]
    assert result["company"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("name", "UNIQUE"),
        ("fiscalId", "UNIQUE"),
        ("generalEmail", "INVALID"),
        ("paymentConditions", "INVALID"),
        ("managerId", "NOT_FOUND"),
        ("parentId", "NOT_FOUND"),
        ("roleId", "INVALID"),
    }
    assert await Company.all().count() == before
    assert not await AuditEntry.filter(object_type="Company").exists()


async def test_cycles_are_refused(demo: Api) -> None:
    a = await _id("Customer #A")
    child = (await demo.data(CREATE, {"input": {"name": "Child", "parentId": a}}, as_user="admin"))[
        "companyCreate"
    ]["company"]
    grandchild = (
        await demo.data(
            CREATE, {"input": {"name": "Grandchild", "parentId": child["id"]}}, as_user="admin"
        )
    )["companyCreate"]["company"]
    for parent in (a, grandchild["id"], child["id"]):
        target = a if parent == a else child["id"]
        result = (
            await demo.data(UPDATE, {"input": {"id": target, "parentId": parent}}, as_user="admin")
        )["companyUpdate"]
        if target == a and parent == a:
            assert result["errors"] == [
                {
                    "field": "parentId",
                    "code": "INVALID",
                    "message": "A company cannot be its own parent or ancestor.",
                }
            ]
        else:
            assert result["errors"][0]["code"] == "INVALID"
    assert (await Company.get(name="Child")).parent_id == int(a)


async def test_update_version_and_manager_change_rules(demo: Api) -> None:
    a = await _id("Customer #A")
    manager1 = str((await Company.get(name="Customer #B")).manager_id)
    stale = (
        await demo.data(UPDATE, {"input": {"id": a, "version": 7, "name": "X"}}, as_user="user1")
    )["companyUpdate"]
    assert stale["errors"][0]["code"] == "STALE"
    give_away = (
        await demo.data(UPDATE, {"input": {"id": a, "managerId": manager1}}, as_user="user1")
    )["companyUpdate"]
    assert give_away["errors"] == [
        {"field": "managerId", "code": "FORBIDDEN", "message": "Changing the manager needs CM."}
    ]
    moved = (
        await demo.data(
            UPDATE, {"input": {"id": a, "managerId": manager1, "version": 1}}, as_user="manager1"
        )
    )["companyUpdate"]
    assert moved["errors"] == []
    assert moved["company"]["manager"] == {"username": "manager1"}
    assert moved["company"]["version"] == 2
    entry = await AuditEntry.get(action="UPDATE", object_type="Company", object_id=a)
    assert entry.changes["manager_id"][1] == int(manager1)


async def test_custom_field_values_roll_back_with_the_company(demo: Api) -> None:
    field = (
        await demo.data(
            """mutation { customFieldCreate(input: {entity: COMPANY, name: "Employees",
                kind: NUMERIC}) { customField { id } errors { code } } }""",
            as_user="manager1",
        )
    )["customFieldCreate"]["customField"]
    result = (
        await demo.data(
            CREATE,
            {
                "input": {
                    "name": "Numbers Inc",
                    "parentId": await _id("Customer #A"),
                    "customFields": [{"fieldId": field["id"], "value": "many"}],
                }
            },
            as_user="manager1",
        )
    )["companyCreate"]
    assert result["errors"] == [
        {
            "field": "customFields.Employees",
            "code": "INVALID",
            "message": "Employees: 'many' is not a number.",
        }
    ]
    assert not await Company.filter(name="Numbers Inc").exists()
    assert await CustomFieldValue.all().count() == 0
    ok = (
        await demo.data(
            CREATE,
            {
                "input": {
                    "name": "Numbers Inc",
                    "parentId": await _id("Customer #A"),
                    "customFields": [{"fieldId": field["id"], "value": "0120.50"}],
                }
            },
            as_user="manager1",
        )
    )["companyCreate"]
    assert ok["company"]["customFields"] == [{"name": "Employees", "value": "120.5"}]


async def test_roles_need_cm_and_are_unique(demo: Api) -> None:
    create = (
        'mutation { companyRoleCreate(input: {name: "Partner"}) '
        "{ role { name } errors { field code } } }"
    )
    body = await demo.gql(create, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    ok = await demo.data(create, as_user="manager1")
    assert ok["companyRoleCreate"] == {"role": {"name": "Partner"}, "errors": []}
    again = await demo.data(create, as_user="manager1")
    assert again["companyRoleCreate"]["errors"] == [{"field": "name", "code": "UNIQUE"}]
    roles = await demo.data("{ companyRoles { name } }", as_user="user1")
    assert [r["name"] for r in roles["companyRoles"]] == [
        "Customer",
        "Other",
        "Partner",
        "Supplier",
    ]


async def test_list_filters_and_order(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    a.country = "Greenland"
    await a.save()
    await make_billing(a, 150_000)
    query = """query($f: CompanyFilter, $o: [CompanyOrder!]) {
      companies(filter: $f, orderBy: $o) { totalCount edges { node { name billing { amount } } } }
    }"""

    async def run(flt: dict | None = None, order: list | None = None) -> list[str]:
        data = await demo.data(query, {"f": flt, "o": order}, as_user="admin")
        return [e["node"]["name"] for e in data["companies"]["edges"]]

    assert await run({"search": "green"}) == ["Customer #A"]
    assert await run({"search": str(a.id)}) == ["Customer #A"]
    assert await run({"billing": {"gte": "1000"}}) == ["Customer #A"]
    assert await run({"billing": {"lt": "1000"}}) == ["Customer #B", "My company"]
    assert await run({"manager": {"username": {"eq": "manager1"}}}) == ["Customer #B"]
    assert await run({"parent": {"name": {"eq": "My company"}}}) == ["Customer #A", "Customer #B"]
    assert await run({"parent": {"id": {"isNull": True}}}) == ["My company"]
    assert await run({"role": {"name": {"eq": "Customer"}}}) == ["Customer #A", "Customer #B"]
    assert await run(order=[{"field": "BILLING", "direction": "DESC"}, {"field": "NAME"}]) == [
        "Customer #A",
        "Customer #B",
        "My company",
    ]
    body = await demo.gql(query, {"f": {"billing": {"gte": "lots"}}}, as_user="admin")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = await demo.gql("{ companies { nope } }", as_user="admin")
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await demo.gql("{ companies { ", as_user="admin")
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]
