"""Contacts and activities: visible with their company, changed with edit access to it;
required fields; the company feed includes its contacts' activities."""

from __future__ import annotations

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from tests.contacts_api import CREATE, create_contact
from tests.factories import Api, company_id, error_codes

ACTIVITY = """mutation($input: ActivityCreateInput!) {
  activityCreate(input: $input) { activity { id text author { username } contact { fullName } }
                                  errors { field code } }
}"""


async def test_contact_rules(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    ann = await create_contact(demo, "user1", a, "Ann Smith", "ann@example.com")
    assert ann["company"] == {"name": "Customer #A"} and ann["viewerCan"] == {"edit": True}
    # Required and valid fields, all reported at once, nothing written.
    bad = (
        await demo.data(
            CREATE, {"input": {"companyId": a, "fullName": " ", "email": "x"}}, as_user="user1"
        )
    )["contactCreate"]
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("fullName", "REQUIRED"),
        ("email", "INVALID"),
    }
    # user1 sees Customer #B but cannot edit it, so cannot add contacts there.
    body = await demo.gql(
        CREATE,
        {"input": {"companyId": b, "fullName": "Bo", "email": "bo@example.com"}},
        as_user="user1",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    # A hidden company is simply not found.
    hidden = (
        await demo.data(
            CREATE,
            {
                "input": {
                    "companyId": await company_id("My company"),
                    "fullName": "Me",
                    "email": "me@example.com",
                }
            },
            as_user="user1",
        )
    )["contactCreate"]
    assert hidden["errors"][0] == {
        "field": "companyId",
        "code": "NOT_FOUND",
        "message": "No such company.",
    }
    assert await Contact.all().count() == 1

    # Visibility follows the company: manager1 sees Ann; user2 sees nothing.
    await create_contact(demo, "admin", await company_id("My company"), "Boss", "boss@example.com")
    listed = await demo.data(
        "{ contacts { totalCount edges { node { fullName viewerCan { edit } } } } }",
        as_user="manager1",
    )
    assert listed["contacts"]["totalCount"] == 1  # My company is hidden from manager1
    assert listed["contacts"]["edges"][0]["node"] == {
        "fullName": "Ann Smith",
        "viewerCan": {"edit": True},
    }
    body = await demo.gql("{ contacts { totalCount } }", as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]

    # Nested under a company, limited per parent.
    nested = await demo.data(
        "query($id: ID!) { company(id: $id) { contacts(first: 1) { totalCount "
        "pageInfo { hasNextPage } edges { node { fullName } } } } }",
        {"id": a},
        as_user="user1",
    )
    assert nested["company"]["contacts"]["totalCount"] == 1

    # Update and delete need edit access too.
    update = """mutation($id: ID!) { contactUpdate(input: {id: $id, position: "CTO"})
                { contact { position version } errors { code } } }"""
    done = await demo.data(update, {"id": ann["id"]}, as_user="user1")
    assert done["contactUpdate"]["contact"] == {"position": "CTO", "version": 2}
    await Company.filter(name="Customer #A").update(manager_id=None)
    body = await demo.gql(update, {"id": ann["id"]}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    gone = await demo.data(
        "mutation($id: ID!) { contactDelete(id: $id) { deletedId errors { code } } }",
        {"id": ann["id"]},
        as_user="manager1",
    )
    assert gone["contactDelete"]["deletedId"] == ann["id"]


async def test_activities_feed_and_rules(demo: Api) -> None:
    a = await company_id("Customer #A")
    ann = await create_contact(demo, "user1", a, "Ann Smith", "ann@example.com")
    empty = await demo.data(ACTIVITY, {"input": {"companyId": a, "text": "   "}}, as_user="user1")
    assert empty["activityCreate"]["errors"] == [{"field": "text", "code": "REQUIRED"}]
    first = await demo.data(
        ACTIVITY, {"input": {"companyId": a, "text": "Called them"}}, as_user="user1"
    )
    assert first["activityCreate"]["activity"]["author"] == {"username": "user1"}
    on_contact = await demo.data(
        ACTIVITY, {"input": {"contactId": ann["id"], "text": "Met Ann"}}, as_user="manager1"
    )
    assert on_contact["activityCreate"]["activity"]["contact"] == {"fullName": "Ann Smith"}

    feed = await demo.data(
        "query($id: ID!) { company(id: $id) { lastActivity activities { totalCount "
        "edges { node { text } } } contacts { edges { node { activities { totalCount } } } } } }",
        {"id": a},
        as_user="user1",
    )
    company = feed["company"]
    assert company["activities"]["totalCount"] == 2
    assert [e["node"]["text"] for e in company["activities"]["edges"]] == ["Met Ann", "Called them"]
    assert company["contacts"]["edges"][0]["node"]["activities"]["totalCount"] == 1
    assert company["lastActivity"] is not None

    # Only the author (or CM) changes an activity.
    theirs = on_contact["activityCreate"]["activity"]["id"]
    body = await demo.gql(
        'mutation($id: ID!) { activityUpdate(input: {id: $id, text: "edited"}) '
        "{ errors { code } } }",
        {"id": theirs},
        as_user="user1",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    mine = first["activityCreate"]["activity"]["id"]
    deleted = await demo.data(
        "mutation($id: ID!) { activityDelete(id: $id) { deletedId } }",
        {"id": mine},
        as_user="user1",
    )
    assert deleted["activityDelete"]["deletedId"] == mine
    assert await Activity.all().count() == 1
    # Customer #B is read-only for user1: no activities there.
    body = await demo.gql(
        ACTIVITY,
        {"input": {"companyId": await company_id("Customer #B"), "text": "hi"}},
        as_user="user1",
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_activity_viewer_can(demo: Api) -> None:
    b = await company_id("Customer #B")
    made = await demo.data(
        ACTIVITY, {"input": {"companyId": b, "text": "Called"}}, as_user="manager1"
    )
    activity_id = made["activityCreate"]["activity"]["id"]
    query = """query($id: ID!) { company(id: $id) { activities { edges { node {
      id viewerCan { edit delete } viewerCanChange } } } } }"""
    # Its author (manager1) and a superadmin may change and delete it; user1, who only
    # sees Customer #B, may not.
    for user, allowed in (("manager1", True), ("admin", True), ("user1", False)):
        data = await demo.data(query, {"id": b}, as_user=user)
        nodes = [e["node"] for e in data["company"]["activities"]["edges"]]
        assert nodes == [
            {
                "id": activity_id,
                "viewerCan": {"edit": allowed, "delete": allowed},
                "viewerCanChange": allowed,
            }
        ], user
    fields = await demo.data(
        '{ __type(name: "Activity") { fields(includeDeprecated: true) '
        "{ name isDeprecated deprecationReason } } }",
        as_user="admin",
    )
    deprecated = {f["name"]: f for f in fields["__type"]["fields"] if f["isDeprecated"]}
    assert set(deprecated) == {"viewerCanChange"}
    assert deprecated["viewerCanChange"]["deprecationReason"] == "Use viewerCan { edit delete }"


async def test_companies_sort_by_last_activity(demo: Api) -> None:
    for name, text in (("Customer #B", "first"), ("Customer #A", "second")):
        await demo.data(
            ACTIVITY,
            {"input": {"companyId": await company_id(name), "text": text}},
            as_user="manager1" if name == "Customer #B" else "user1",
        )
    query = """query($after: String) { companies(first: 1, after: $after,
        orderBy: [{field: LAST_ACTIVITY, direction: DESC}]) {
        pageInfo { endCursor hasNextPage } edges { node { name lastActivity } } } }"""
    seen, after = [], None
    while True:
        page = (await demo.data(query, {"after": after}, as_user="admin"))["companies"]
        seen += [(e["node"]["name"], e["node"]["lastActivity"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [name for name, _ in seen] == ["Customer #A", "Customer #B", "My company"]
    assert seen[2][1] is None and seen[0][1] > seen[1][1]
