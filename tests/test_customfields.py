"""Custom fields: the seven kinds, sections, linked fields, validation naming the
field, typed reading, filtering lists by values."""

from __future__ import annotations

from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomFieldValue
from tests.factories import Api, error_codes

FIELD = """mutation($input: CustomFieldCreateInput!) {
  customFieldCreate(input: $input) { customField { id name kind options parentId sectionId }
                                     errors { field code message } }
}"""
SET = """mutation($id: ID!, $values: [CustomFieldValueInput!]) {
  companyUpdate(input: {id: $id, customFields: $values}) {
    company { customFields { name kind value number date checked sectionName } }
    errors { field code message }
  }
}"""


async def field(api: Api, **values: object) -> dict:
    result = (await api.data(FIELD, {"input": values}, as_user="manager1"))["customFieldCreate"]
    assert result["errors"] == [], result
    return result["customField"]


async def test_definitions_need_cm(demo: Api) -> None:
    body = await demo.gql(
        FIELD, {"input": {"entity": "COMPANY", "name": "x", "kind": "TEXT"}}, as_user="user1"
    )
    assert error_codes(body) == ["FORBIDDEN"]
    listed = await demo.data("{ customFields(entity: COMPANY) { name } }", as_user="user1")
    assert listed["customFields"] == []


async def test_definition_errors(demo: Api) -> None:
    async def errors(**values: object) -> list[tuple[str, str]]:
        result = (await demo.data(FIELD, {"input": values}, as_user="manager1"))[
            "customFieldCreate"
        ]
        return [(e["field"], e["code"]) for e in result["errors"]]

    assert await errors(entity="COMPANY", name="", kind="TEXT") == [("name", "REQUIRED")]
    assert await errors(entity="COMPANY", name="Size", kind="COMBO") == [("options", "REQUIRED")]
    await field(demo, entity="COMPANY", name="Size", kind="COMBO", options=["S", "M"])
    assert await errors(entity="COMPANY", name="Size", kind="TEXT") == [("name", "UNIQUE")]
    assert await errors(entity="COMPANY", name="Sub", kind="TEXT", parentId="1") == [
        ("parentId", "INVALID")
    ]
    assert await errors(entity="CONTACT", name="In", kind="TEXT", sectionId="1") == [
        ("sectionId", "INVALID")
    ]
    assert await errors(entity="CONTRACT", name="Seats", kind="NUMERIC") == [
        ("ownerId", "REQUIRED")
    ]
    assert await errors(entity="CONTRACT", name="Seats", kind="NUMERIC", ownerId="999") == [
        ("ownerId", "NOT_FOUND")
    ]
    assert await errors(entity="COMPANY", name="Seats", kind="NUMERIC", ownerId="1") == [
        ("ownerId", "INVALID")
    ]


async def test_seven_kinds_validate_and_read_typed(demo: Api) -> None:
    section = (
        await demo.data(
            'mutation { customFieldSectionCreate(input: {name: "Additional contact information"})'
            " { section { id } errors { code } } }",
            as_user="manager1",
        )
    )["customFieldSectionCreate"]["section"]
    f = {
        "check": await field(demo, entity="COMPANY", name="Partner", kind="CHECKBOX"),
        "combo": await field(
            demo, entity="COMPANY", name="Tier", kind="COMBO", options=["Gold", "Silver"]
        ),
        "region": await field(
            demo, entity="COMPANY", name="Region", kind="LINKED", options=["Europe", "America"]
        ),
        "date": await field(demo, entity="COMPANY", name="Since", kind="DATE"),
        "number": await field(demo, entity="COMPANY", name="Employees", kind="NUMERIC"),
        "text": await field(
            demo, entity="COMPANY", name="Skype", kind="TEXT", sectionId=section["id"]
        ),
        "area": await field(demo, entity="COMPANY", name="Notes", kind="TEXTAREA"),
    }
    f["city"] = await field(
        demo,
        entity="COMPANY",
        name="City",
        kind="LINKED",
        parentId=f["region"]["id"],
        options=["Europe|Madrid", "Europe|Paris", "America|Lima"],
    )
    company = str((await Company.get(name="Customer #A")).id)

    async def set_values(values: dict[str, str | None]) -> dict:
        payload = [{"fieldId": f[k]["id"], "value": v} for k, v in values.items()]
        return (await demo.data(SET, {"id": company, "values": payload}, as_user="user1"))[
            "companyUpdate"
        ]

    bad = await set_values(
        {
            "check": "maybe",
            "combo": "Bronze",
            "date": "2024-02-30",
            "number": "12abc",
            "text": "two\nlines",
            "region": "Europe",
            "city": "Lima",
        }
    )
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("customFields.Partner", "INVALID"),
        ("customFields.Tier", "INVALID"),
        ("customFields.Since", "INVALID"),
        ("customFields.Employees", "INVALID"),
        ("customFields.Skype", "INVALID"),
        ("customFields.City", "INVALID"),  # Lima is in America, not Europe
    }
    assert await CustomFieldValue.all().count() == 0  # nothing half-written

    good = await set_values(
        {
            "check": "yes",
            "combo": "Gold",
            "date": "2024-04-11",
            "number": "1500.50",
            "text": "acme.sales",
            "area": "Line one\nLine two",
            "region": "America",
            "city": "Lima",
        }
    )
    assert good["errors"] == []
    by_name = {v["name"]: v for v in good["company"]["customFields"]}
    assert by_name["Partner"]["checked"] is True and by_name["Partner"]["value"] == "1"
    assert by_name["Tier"]["value"] == "Gold"
    assert by_name["Since"]["date"] == "2024-04-11"
    assert by_name["Employees"]["number"] == "1500.5"
    assert by_name["Skype"]["sectionName"] == "Additional contact information"
    assert by_name["Notes"]["sectionName"] == "Without section"
    assert by_name["City"]["value"] == "Lima"
    # Clearing one value leaves the others.
    cleared = await set_values({"area": None})
    values = {v["name"]: v["value"] for v in cleared["company"]["customFields"]}
    assert values["Notes"] is None and values["Tier"] == "Gold"

    # Lists filter by custom field values, in SQL.
    query = """query($f: CompanyFilter) { companies(filter: $f) { totalCount
                 edges { node { name } } } }"""
    hits = await demo.data(
        query,
        {"f": {"customFields": [{"fieldId": f["combo"]["id"], "eq": "Gold"}]}},
        as_user="user1",
    )
    assert [e["node"]["name"] for e in hits["companies"]["edges"]] == ["Customer #A"]
    unset = await demo.data(
        query,
        {"f": {"customFields": [{"fieldId": f["combo"]["id"], "isSet": False}]}},
        as_user="user1",
    )
    assert [e["node"]["name"] for e in unset["companies"]["edges"]] == ["Customer #B"]

    # Deleting a definition deletes its values.
    await demo.data(
        "mutation($id: ID!) { customFieldDelete(id: $id) { deletedId } }",
        {"id": f["area"]["id"]},
        as_user="manager1",
    )
    refused = await demo.data(
        "mutation($id: ID!) { customFieldDelete(id: $id) { errors { code } } }",
        {"id": f["region"]["id"]},
        as_user="manager1",
    )
    assert refused["customFieldDelete"]["errors"] == [{"code": "CONFLICT"}]


async def test_required_field_on_create(demo: Api) -> None:
    await field(demo, entity="COMPANY", name="VAT zone", kind="TEXT", required=True)
    parent = str((await Company.get(name="Customer #A")).id)
    result = (
        await demo.data(
            'mutation($p: ID!) { companyCreate(input: {name: "New", parentId: $p}) '
            "{ company { id } errors { field code } } }",
            {"p": parent},
            as_user="user1",
        )
    )["companyCreate"]
    assert result["errors"] == [{"field": "customFields.VAT zone", "code": "REQUIRED"}]
    assert not await Company.filter(name="New").exists()
