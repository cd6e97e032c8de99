"""Every update mutation takes one `input: XUpdateInput!` with the id inside, and only the
fields given change: the lookup-table updates (company roles, contract types, lead types
and tags) and activityUpdate, over HTTP as clients call them."""

from __future__ import annotations

import pytest

from crm_graphql.models.companies import Company
from tests.factories import Api, error_codes

# (mutation, payload field, create input, kept field, changed field, new value)
CASES = [
    ("companyRole", "role", {"name": "Partner", "description": "Works with us"}, "description"),
    ("contractType", "contractType", {"name": "Support", "description": "Hours"}, "description"),
    ("leadType", "leadType", {"name": "Software", "description": "Licences"}, "description"),
    ("leadTag", "tag", {"name": "Hot", "colour": "#ff0000"}, "colour"),
]


def _type(mutation: str) -> str:
    return mutation[0].upper() + mutation[1:]


@pytest.mark.parametrize(("mutation", "payload", "created", "kept"), CASES)
async def test_update_changes_only_given_fields(
    demo: Api, mutation: str, payload: str, created: dict, kept: str
) -> None:
    kind = _type(mutation)
    fields = f"{payload} {{ id name {kept} }} errors {{ field code }}"
    create = f"mutation($i: {kind}Input!) {{ {mutation}Create(input: $i) {{ {fields} }} }}"
    update = f"mutation($i: {kind}UpdateInput!) {{ {mutation}Update(input: $i) {{ {fields} }} }}"
    made = (await demo.data(create, {"i": created}, as_user="admin"))[f"{mutation}Create"]
    assert made["errors"] == [], made
    item_id = made[payload]["id"]

    renamed = (await demo.data(update, {"i": {"id": item_id, "name": "Renamed"}}, as_user="admin"))[
        f"{mutation}Update"
    ]
    assert renamed["errors"] == []
    assert renamed[payload] == {"id": item_id, "name": "Renamed", kept: created[kept]}

    # Null is not "leave it": refused, naming the field, and nothing changes.
    nulled = (await demo.data(update, {"i": {"id": item_id, "name": None}}, as_user="admin"))[
        f"{mutation}Update"
    ]
    assert nulled["errors"] == [{"field": "name", "code": "REQUIRED"}]

    missing = (await demo.data(update, {"i": {"id": "999999", "name": "X"}}, as_user="admin"))[
        f"{mutation}Update"
    ]
    assert missing["errors"] == [{"field": "id", "code": "NOT_FOUND"}]

    # The former shape (id beside input) is gone.
    old = await demo.gql(
        f'mutation {{ {mutation}Update(id: "{item_id}", input: {{name: "Y"}}) '
        "{ errors { code } } }",
        as_user="admin",
    )
    assert old.get("data") is None and old["errors"]


async def test_activity_update_takes_an_input(demo: Api) -> None:
    company = str((await Company.get(name="Customer #A")).id)
    made = await demo.data(
        """mutation($i: ActivityCreateInput!) { activityCreate(input: $i) { activity { id } } }""",
        {"i": {"companyId": company, "text": "Called them"}},
        as_user="user1",
    )
    activity_id = made["activityCreate"]["activity"]["id"]
    update = """mutation($i: ActivityUpdateInput!) {
      activityUpdate(input: $i) { activity { id text } errors { field code } } }"""

    edited = await demo.data(
        update, {"i": {"id": activity_id, "text": "Met them"}}, as_user="user1"
    )
    assert edited["activityUpdate"] == {
        "activity": {"id": activity_id, "text": "Met them"},
        "errors": [],
    }
    unchanged = await demo.data(update, {"i": {"id": activity_id}}, as_user="user1")
    assert unchanged["activityUpdate"]["activity"]["text"] == "Met them"
    nulled = await demo.data(update, {"i": {"id": activity_id, "text": None}}, as_user="user1")
    assert nulled["activityUpdate"]["errors"] == [{"field": "text", "code": "REQUIRED"}]
    # Only its author (or CM) changes it.
    body = await demo.gql(update, {"i": {"id": activity_id, "text": "x"}}, as_user="user2")
    assert error_codes(body) in (["FORBIDDEN"], ["NOT_FOUND"])
