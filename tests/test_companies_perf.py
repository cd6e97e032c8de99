"""The companies list with its nested data (manager, parent, first contacts, custom
fields, viewer rights) costs a number of SQL statements that depends on the query's
shape, never on the number of rows, and returns the right data: the per-parent contact
limit, hidden parents as null, custom field values in field order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldValue,
)
from crm_graphql.models.users import User
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.settings import settings
from tests.factories import Api, make_company, make_custom_field, make_section, make_user

QUERY = """{
  companies(first: 50) {
    edges { node {
      name
      manager { username }
      parent { name }
      contacts(first: 10) { edges { node { fullName } } }
      customFields { name value }
      viewerCan { edit }
    } }
  }
}"""

# The statements the query's shape costs: one on the compiled read path; on the
# executor the page, managers, parents, the contacts window, custom field definitions,
# section names, custom field values.
SHAPE_STATEMENTS = 1 if settings.compiled_reads else 7


@dataclass
class Expected:
    """What each company must look like to manager1 and to admin."""

    manager: str | None
    parent_for_manager1: str | None
    parent_for_admin: str | None
    contacts: list[str] = field(default_factory=list)
    values: dict[str, str | None] = field(default_factory=dict)


async def make_fields() -> list[CustomField]:
    """Three company fields of ours, after any the demo defines."""
    section = await make_section(name="Perf section", position=90)
    return [
        await make_custom_field(
            entity=CustomFieldEntity.COMPANY,
            name="Perf segment",
            kind=CustomFieldKind.TEXT,
            position=90,
            section=section,
        ),
        await make_custom_field(
            entity=CustomFieldEntity.COMPANY,
            name="Perf employees",
            kind=CustomFieldKind.NUMERIC,
            position=91,
        ),
        await make_custom_field(
            entity=CustomFieldEntity.COMPANY,
            name="Perf partner",
            kind=CustomFieldKind.CHECKBOX,
            position=92,
        ),
    ]


async def field_names() -> list[str]:
    """Every company custom field, in the order the API lists them."""
    rows = await CustomField.filter(entity=CustomFieldEntity.COMPANY, owner_id=None).order_by(
        "position", "id"
    )
    return [f.name for f in rows]


async def populate(count: int, prefix: str) -> dict[str, Expected]:
    """`count` companies named "<prefix> NNN": odd ones under Customer #B (a parent
    manager1 sees), even ones under "Hidden root" (a top-level company of an outsider,
    hidden from manager1, whose children it still sees because their manager user1 is
    a colleague). Contacts: 0 to 12 each; custom values on most."""
    user1 = await User.get(username="user1")
    manager1 = await User.get(username="manager1")
    outsider = await User.filter(username="outsider").first() or await make_user("outsider")
    hidden, _ = await Company.get_or_create(name="Hidden root", defaults={"manager": outsider})
    if not hidden.path:
        hidden.path = f"/{hidden.id}/"
        await Company.filter(id=hidden.id).update(path=hidden.path)
    visible = await Company.get(name="Customer #B")
    fields = await CustomField.filter(name__startswith="Perf ")
    expected: dict[str, Expected] = {}
    contacts: list[Contact] = []
    values: list[CustomFieldValue] = []
    for i in range(count):
        name = f"{prefix} {i:03}"
        parent = visible if i % 2 else hidden
        manager = manager1 if i % 3 == 0 else user1
        company = await make_company(name, parent=parent, manager=manager)
        # reversed creation order, so the name order is not the id order
        names = [f"{name} contact {j:02}" for j in reversed(range(i % 13))]
        contacts += [
            Contact(company=company, full_name=n, email=f"c{i}-{j}@example.com")
            for j, n in enumerate(names)
        ]
        row = {
            "Perf segment": f"segment {i}" if i % 4 else None,
            "Perf employees": str(i * 10) if i % 5 else None,
            "Perf partner": "1" if i % 2 else "0",
        }
        values += [
            CustomFieldValue(field=f, object_id=company.id, value=row[f.name])
            for f in fields
            if row[f.name] is not None
        ]
        expected[name] = Expected(
            manager=manager.username,
            parent_for_manager1=parent.name if parent is visible else None,
            parent_for_admin=parent.name,
            contacts=sorted(names)[:10],
            values=row,
        )
    await Contact.bulk_create(contacts)
    await CustomFieldValue.bulk_create(values)
    return expected


def check(
    data: dict[str, Any], expected: dict[str, Expected], viewer: str, names: list[str]
) -> int:
    """Compare every node of ours on the page with what was written; returns how many.
    `names`: every company custom field in order (ours have values, others null)."""
    seen = 0
    for edge in data["companies"]["edges"]:
        node = edge["node"]
        want = expected.get(node["name"])
        if want is None:
            continue
        seen += 1
        assert node["manager"] == {"username": want.manager}, node
        parent = want.parent_for_admin if viewer == "admin" else want.parent_for_manager1
        assert node["parent"] == ({"name": parent} if parent else None), node
        assert [e["node"]["fullName"] for e in node["contacts"]["edges"]] == want.contacts
        assert node["customFields"] == [
            {"name": name, "value": want.values.get(name)} for name in names
        ]
        assert node["viewerCan"] == {"edit": True}  # admin; manager1 holds CM
    return seen


async def test_statements_do_not_grow_with_rows(demo: Api) -> None:
    async def run(user: str) -> tuple[int, dict[str, Any]]:
        # warm-up: the first request after login marks the token as used (an UPDATE)
        await demo.data("{ __typename }", as_user=user)
        with count_statements() as statements:
            data = await demo.data(QUERY, as_user=user)
        return len(statements), data

    # what authenticating a request costs, counted the same way
    authentication = {}
    for user in ("manager1", "admin"):
        await demo.data("{ __typename }", as_user=user)
        with count_statements() as statements:
            await demo.data("{ __typename }", as_user=user)
        authentication[user] = len(statements)

    await make_fields()
    names = await field_names()
    small_expected = await populate(4, "Small")
    small = {}
    for user in ("manager1", "admin"):
        small[user], data = await run(user)
        assert check(data, small_expected, user, names) == 4

    large_expected = await populate(70, "Large")
    large = {}
    for user in ("manager1", "admin"):
        large[user], data = await run(user)
        assert len(data["companies"]["edges"]) == 50
        # the page is sorted by name: "Customer..." and "Hidden root" sort before
        # "Large...", then 46 or 47 of ours, all checked value by value
        assert check(data, large_expected, user, names) >= 45

    # manager1 sees Customer #A and #B and our companies, not My company nor Hidden root
    names = [e["node"]["name"] for e in (await run("manager1"))[1]["companies"]["edges"]]
    assert names[:2] == ["Customer #A", "Customer #B"]
    assert "Hidden root" not in names and "My company" not in names

    for user in ("manager1", "admin"):
        assert small[user] == large[user], (user, small[user], large[user])
        assert large[user] - authentication[user] == SHAPE_STATEMENTS, user


async def test_contact_limit_and_hidden_parents_in_detail(demo: Api) -> None:
    await make_fields()
    expected = await populate(13, "Detail")
    data = await demo.data(QUERY, as_user="manager1")
    by_name = {e["node"]["name"]: e["node"] for e in data["companies"]["edges"]}
    # company 12 has 12 contacts: the first 10 by name come back
    twelve = by_name["Detail 012"]["contacts"]["edges"]
    assert len(twelve) == 10
    assert twelve[0]["node"]["fullName"] == "Detail 012 contact 00"
    assert twelve[-1]["node"]["fullName"] == "Detail 012 contact 09"
    # company 3: 3 contacts; 0: none
    assert len(by_name["Detail 003"]["contacts"]["edges"]) == 3
    assert by_name["Detail 000"]["contacts"]["edges"] == []
    # parents: Customer #B visible, Hidden root hidden (null), My company hidden (null)
    assert by_name["Detail 001"]["parent"] == {"name": "Customer #B"}
    assert by_name["Detail 002"]["parent"] is None
    assert by_name["Customer #A"]["parent"] is None
    # custom values in field order, null when unset
    assert by_name["Detail 005"]["customFields"][-3:] == [
        {"name": "Perf segment", "value": "segment 5"},
        {"name": "Perf employees", "value": None},
        {"name": "Perf partner", "value": "1"},
    ]
    assert by_name["Detail 004"]["customFields"][-3:] == [
        {"name": "Perf segment", "value": None},
        {"name": "Perf employees", "value": "40"},
        {"name": "Perf partner", "value": "0"},
    ]
    assert check(data, expected, "manager1", await field_names()) == 13

    # admin sees the hidden parents; user1 edits only what it manages
    data = await demo.data(QUERY, as_user="admin")
    by_name = {e["node"]["name"]: e["node"] for e in data["companies"]["edges"]}
    assert by_name["Detail 002"]["parent"] == {"name": "Hidden root"}
    assert by_name["Customer #A"]["parent"] == {"name": "My company"}
    data = await demo.data(QUERY, as_user="user1")
    by_name = {e["node"]["name"]: e["node"] for e in data["companies"]["edges"]}
    assert by_name["Detail 001"]["viewerCan"] == {"edit": True}  # managed by user1
    assert by_name["Detail 003"]["viewerCan"] == {"edit": False}  # manager1's
