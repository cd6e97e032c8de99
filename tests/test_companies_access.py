"""The company-based access rule (SPEC §2) over HTTP: the worked case verbatim, then
standalone users, companies without parent and parent/child visibility."""

from __future__ import annotations

from crm_graphql.models.companies import Company
from crm_graphql.models.users import User, UserMode
from crm_graphql.services.auth import Viewer
from crm_graphql.services.companies import create_company
from tests.factories import Api, error_codes, make_user

LIST = "{ companies(first: 100) { totalCount edges { node { name viewerCan { edit delete } } } } }"
ONE = "query($id: ID!) { company(id: $id) { name viewerCan { edit manage delete } } }"
UPDATE = """mutation($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { company { comments } errors { field code } }
}"""
DELETE = "mutation($id: ID!) { companyDelete(id: $id) { deletedId errors { field code } } }"


async def names(api: Api, user: str) -> dict[str, dict]:
    data = await api.data(LIST, as_user=user)
    edges = data["companies"]["edges"]
    assert data["companies"]["totalCount"] == len(edges)
    return {e["node"]["name"]: e["node"]["viewerCan"] for e in edges}


async def ids() -> dict[str, str]:
    return {c.name: str(c.id) for c in await Company.all()}


async def test_worked_case_lists(demo: Api) -> None:
    # Given the SPEC §2 world: My company (no parent), Customer #A (user1), #B (manager1).
    # Then user1 views A and B, and edits only A (its manager).
    assert await names(demo, "user1") == {
        "Customer #A": {"edit": True, "delete": False},
        "Customer #B": {"edit": False, "delete": False},
    }
    # manager1 (CM) views and edits both, and may delete them.
    assert await names(demo, "manager1") == {
        "Customer #A": {"edit": True, "delete": True},
        "Customer #B": {"edit": True, "delete": True},
    }
    # user2 has no CRM bits: no CRM data at all.
    body = await demo.gql(LIST, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] is None
    # The superadmin sees everything, My company included.
    assert set(await names(demo, "admin")) == {"My company", "Customer #A", "Customer #B"}


async def test_worked_case_single_and_nested(demo: Api) -> None:
    company = await ids()
    a = await demo.data(ONE, {"id": company["Customer #A"]}, as_user="user1")
    assert a["company"] == {
        "name": "Customer #A",
        "viewerCan": {"edit": True, "manage": False, "delete": False},
    }
    b = await demo.data(ONE, {"id": company["Customer #B"]}, as_user="user1")
    assert b["company"]["viewerCan"]["edit"] is False
    # My company has no parent: only its manager (admin) sees it; user1 belongs to it.
    hidden = await demo.gql(ONE, {"id": company["My company"]}, as_user="user1")
    assert error_codes(hidden) == ["NOT_FOUND"]
    for user in ("user2",):
        body = await demo.gql(ONE, {"id": company["Customer #A"]}, as_user=user)
        assert error_codes(body) == ["FORBIDDEN"]
    # Nested: the parent of Customer #A is hidden from user1, shown to admin.
    nested = "{ companies { edges { node { name parent { name } manager { username } } } } }"
    for_user1 = await demo.data(nested, as_user="user1")
    assert {
        (
            e["node"]["name"],
            e["node"]["parent"] and e["node"]["parent"]["name"],
            e["node"]["manager"]["username"],
        )
        for e in for_user1["companies"]["edges"]
    } == {
        ("Customer #A", None, "user1"),
        ("Customer #B", None, "manager1"),
    }
    for_admin = await demo.data(nested, as_user="admin")
    parents = {e["node"]["name"]: e["node"]["parent"] for e in for_admin["companies"]["edges"]}
    assert parents["Customer #A"] == {"name": "My company"}
    # children of My company as admin: both customers; user1 cannot even reach My company.
    children = await demo.data(
        "query($id: ID!) { company(id: $id) { children { totalCount edges { node { name } } } } }",
        {"id": company["My company"]},
        as_user="admin",
    )
    assert children["company"]["children"]["totalCount"] == 2


async def test_worked_case_updates(demo: Api) -> None:
    company = await ids()
    ok = await demo.data(UPDATE, {"id": company["Customer #A"], "c": "by user1"}, as_user="user1")
    assert ok["companyUpdate"] == {"company": {"comments": "by user1"}, "errors": []}
    refused = await demo.gql(UPDATE, {"id": company["Customer #B"], "c": "x"}, as_user="user1")
    assert error_codes(refused) == ["FORBIDDEN"]
    assert (await Company.get(name="Customer #B")).comments == ""
    hidden = await demo.data(UPDATE, {"id": company["My company"], "c": "x"}, as_user="user1")
    assert hidden["companyUpdate"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    for target in ("Customer #A", "Customer #B"):
        done = await demo.data(UPDATE, {"id": company[target], "c": "mgr"}, as_user="manager1")
        assert done["companyUpdate"]["errors"] == []
    body = await demo.gql(UPDATE, {"id": company["Customer #A"], "c": "x"}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await Company.get(name="Customer #A")).comments == "mgr"


async def test_worked_case_deletes(demo: Api) -> None:
    company = await ids()
    body = await demo.gql(DELETE, {"id": company["Customer #A"]}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]  # no CM
    body = await demo.gql(DELETE, {"id": company["Customer #A"]}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    assert await Company.filter(name="Customer #A").exists()
    # manager1 cannot see My company (no parent, not its manager): NOT_FOUND.
    hidden = await demo.data(DELETE, {"id": company["My company"]}, as_user="manager1")
    assert hidden["companyDelete"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    done = await demo.data(DELETE, {"id": company["Customer #B"]}, as_user="manager1")
    assert done["companyDelete"] == {"deletedId": company["Customer #B"], "errors": []}
    assert not await Company.filter(name="Customer #B").exists()
    # admin: My company still has a child, so it cannot go yet.
    parent = await demo.data(DELETE, {"id": company["My company"]}, as_user="admin")
    assert parent["companyDelete"]["errors"] == [{"field": "id", "code": "CONFLICT"}]


async def _company(name: str, manager: User | None, parent: Company | None = None) -> Company:
    root = await User.get(username="admin")
    viewer = Viewer(user=root, bits=frozenset(), token_id=0, token_kind="SESSION", scope="FULL")  # type: ignore[arg-type]
    data: dict = {"name": name, "manager_id": manager.id if manager else None}
    if parent is not None:
        data["parent_id"] = parent.id
    from tortoise.expressions import Q

    return await create_company(viewer, data, Q())


async def test_company_without_parent_is_hidden_even_from_its_members(demo: Api) -> None:
    outsider_manager = await make_user("ceo", password="ceo-secret", profile="Standard user")
    lone = await _company("Lonely Inc", outsider_manager)
    await make_user("member", password="member-secret", profile="CRM manager", company=lone)
    demo.tokens["member"] = await demo.login("member", "member-secret")
    demo.tokens["ceo"] = await demo.login("ceo", "ceo-secret")
    assert "Lonely Inc" not in await names(demo, "member")
    assert set(await names(demo, "ceo")) == {"Lonely Inc"}


async def test_descendants_of_the_viewer_company_are_visible(demo: Api) -> None:
    # Given a tree under Customer #A: A -> Sub A1 -> Sub A2, managed by someone else.
    stranger = await make_user("stranger")
    a = await Company.get(name="Customer #A")
    a1 = await _company("Sub A1", stranger, a)
    await _company("Sub A2", stranger, a1)
    # A user belonging to Customer #A sees A (has parent) and its descendants.
    await make_user("insider", password="insider-secret", profile="Standard user", company=a)
    demo.tokens["insider"] = await demo.login("insider", "insider-secret")
    seen = await names(demo, "insider")
    assert set(seen) >= {"Customer #A", "Sub A1", "Sub A2"}
    assert "Customer #B" not in seen  # B's manager is not in Customer #A
    assert seen["Sub A1"]["edit"] is False  # Standard user, not the manager
    # user1 belongs to My company: every descendant of My company is visible.
    assert {"Sub A1", "Sub A2"} <= set(await names(demo, "user1"))
    # Moving Sub A1 under a hidden root takes its subtree out of user1's sight.
    other_root = await _company("Other root", stranger)
    moved = await demo.data(
        "mutation($id: ID!, $p: ID!) { companyUpdate(input: {id: $id, parentId: $p}) "
        "{ errors { field code } } }",
        {"id": str(a1.id), "p": str(other_root.id)},
        as_user="admin",
    )
    assert moved["companyUpdate"]["errors"] == []
    assert (
        await Company.get(name="Sub A2")
    ).path == f"/{other_root.id}/{a1.id}/{(await Company.get(name='Sub A2')).id}/"
    assert not {"Sub A1", "Sub A2"} & set(await names(demo, "user1"))


async def test_standalone_user_sees_only_their_company(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    await make_user(
        "external",
        password="external-secret",
        profile="CRM manager",
        company=a,
        mode=UserMode.STANDALONE,
    )
    demo.tokens["external"] = await demo.login("external", "external-secret")
    seen = await names(demo, "external")
    assert seen == {"Customer #A": {"edit": False, "delete": False}}
    body = await demo.gql(UPDATE, {"id": str(a.id), "c": "x"}, as_user="external")
    assert error_codes(body) == ["FORBIDDEN"]
    # As its manager, a standalone user may edit their own company.
    a.manager_id = (await User.get(username="external")).id
    await a.save()
    ok = await demo.data(UPDATE, {"id": str(a.id), "c": "mine"}, as_user="external")
    assert ok["companyUpdate"]["errors"] == []
    create = await demo.gql(
        'mutation { companyCreate(input: {name: "Ext Co"}) { errors { code } } }',
        as_user="external",
    )
    assert error_codes(create) == ["FORBIDDEN"]


async def test_colleague_rule_follows_the_manager_company(demo: Api) -> None:
    # A company managed by someone of another company is hidden from user1...
    other = await Company.get(name="Customer #A")
    foreign_manager = await make_user("foreigner", company=other)
    mine = await Company.get(name="My company")
    await _company("Foreign managed", foreign_manager, mine)
    # ...yet visible, since it is a descendant of user1's company (My company).
    assert "Foreign managed" in await names(demo, "user1")
    # Under a hidden root instead, only the colleague rule could apply: not visible.
    stranger_root = await _company("Far away", foreign_manager)
    await _company("Far child", foreign_manager, stranger_root)
    seen = await names(demo, "user1")
    assert "Far child" not in seen and "Far away" not in seen


async def test_companies_managed_by_colleagues_are_visible_anywhere(demo: Api) -> None:
    # Far from My company's tree, a company managed by manager1 (user1's colleague)...
    stranger = await make_user("stranger2")
    root = await _company("Remote root", stranger)
    await _company("Colleague run", await User.get(username="manager1"), root)
    seen = await names(demo, "user1")
    # ...is visible to user1 (colleague rule) but not editable (user1 has no CM).
    assert seen["Colleague run"] == {"edit": False, "delete": False}
    assert "Remote root" not in seen
    # manager1 (CM) edits it as its manager.
    assert (await names(demo, "manager1"))["Colleague run"]["edit"] is True


async def test_managers_access_rights_are_not_exposed(demo: Api) -> None:
    query = """{ companies { edges { node { name manager { username permissions
                 company { name } } } } } }"""
    body = await demo.gql(query, as_user="user1")
    # user1's own record is readable; manager1's rights are not (no UM).
    errors = {tuple(e["path"]) for e in body["errors"]}
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in body["errors"])
    assert len(errors) == 1 and errors.pop()[-1] == "permissions"
    # Each manager's company (My company) has no parent: hidden from user1.
    assert body["data"] is None or all(
        edge["node"]["manager"] is None or edge["node"]["manager"]["company"] is None
        for edge in body["data"]["companies"]["edges"]
    )
