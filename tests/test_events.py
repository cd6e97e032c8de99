"""The event log and the change feed (issue 16) over HTTP: every change of a CRM object
is an event written with it, `changes` pages them in order with an opaque cursor, each
viewer sees only what the access rule lets them see, deletions are tombstones shown to
those who could see the object when it was deleted."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.events import Event
from crm_graphql.models.users import User, UserMode
from crm_graphql.permissions import events as event_rules
from crm_graphql.permissions.companies import NOTHING
from crm_graphql.services.auth import bits_for_users
from crm_graphql.services.orm import column_values
from crm_graphql.services.sqlcount import count_statements
from tests.contacts_api import create_contact
from tests.factories import Api, company_id, error_codes, make_user

CHANGES = """query($after: String, $types: [ChangeObjectType!], $first: Int) {
  changes(after: $after, types: $types, first: $first) {
    edges { cursor node { id objectType objectId action deleted changes actorId createdAt
                          actor { username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE_COMPANY = """mutation($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { errors { field code } }
}"""
DELETE_CONTACT = "mutation($id: ID!) { contactDelete(id: $id) { deletedId errors { code } } }"
DELETE_COMPANY = "mutation($id: ID!) { companyDelete(id: $id) { deletedId errors { code } } }"


async def feed(api: Api, user: str, **variables: Any) -> list[dict[str, Any]]:
    """Every change `user` may see, read page by page as a syncing client does."""
    seen: list[dict[str, Any]] = []
    after = variables.pop("after", None)
    while True:
        data = await api.data(CHANGES, {"after": after, "first": 3, **variables}, as_user=user)
        page = data["changes"]
        seen += [edge["node"] for edge in page["edges"]]
        if page["pageInfo"]["endCursor"] is not None:
            after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen


def keys(nodes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(n["objectType"], n["objectId"], n["action"]) for n in nodes]


async def test_changes_follow_the_company_rule(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    # user1 changes Customer #A (its manager); manager1 adds a contact to Customer #B.
    assert (await demo.data(UPDATE_COMPANY, {"id": a, "c": "Called"}, as_user="user1"))[
        "companyUpdate"
    ]["errors"] == []
    contact = await create_contact(demo, "manager1", b, "Ann Lee", "ann@example.com")
    # A company nobody but its manager (admin, superadmin) and superadmins may see.
    hidden = await Company.get(name="My company")
    await demo.data(UPDATE_COMPANY, {"id": str(hidden.id), "c": "Ours"}, as_user="admin")

    expected = [("COMPANY", a, "UPDATE"), ("CONTACT", contact["id"], "CREATE")]
    # user1 and manager1 both view A and B (SPEC §2 worked case), not My company.
    assert keys(await feed(demo, "user1")) == expected
    assert keys(await feed(demo, "manager1")) == expected
    # user2 has no CRM bits: nothing, but no error (the feed is theirs too).
    assert await feed(demo, "user2") == []
    # The superadmin sees every change, My company's included.
    assert keys(await feed(demo, "admin")) == [*expected, ("COMPANY", str(hidden.id), "UPDATE")]

    first = (await feed(demo, "user1"))[0]
    assert first["changes"] == {"comments": ["", "Called"]}
    assert first["actor"] == {"username": "user1"} and first["deleted"] is False
    created = (await feed(demo, "user1", types=["CONTACT"]))[0]
    assert created["changes"]["fullName"] == [None, "Ann Lee"]
    assert created["changes"]["companyId"] == [None, int(b)]


async def test_a_standalone_user_sees_only_their_own_company(demo: Api) -> None:
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    own = await Company.get(name="Customer #A")
    await make_user(
        "solo",
        password="solo-secret",
        profile="Standard user",
        company=own,
        mode=UserMode.STANDALONE,
    )
    demo.tokens["solo"] = await demo.login("solo", "solo-secret")
    await demo.data(UPDATE_COMPANY, {"id": a, "c": "A"}, as_user="admin")
    await demo.data(UPDATE_COMPANY, {"id": b, "c": "B"}, as_user="admin")
    assert keys(await feed(demo, "solo")) == [("COMPANY", a, "UPDATE")]


async def test_a_deletion_is_a_tombstone_for_those_who_could_see_the_object(demo: Api) -> None:
    b = await company_id("Customer #B")
    contact = await create_contact(demo, "manager1", b, "Ann Lee", "ann@example.com")
    cursor = (await demo.data(CHANGES, {}, as_user="user1"))["changes"]["pageInfo"]["endCursor"]
    deleted = await demo.data(DELETE_CONTACT, {"id": contact["id"]}, as_user="manager1")
    assert deleted["contactDelete"]["errors"] == []
    # Later, user1 could no longer see Customer #B (another manager, outside their company).
    outsider = await make_user("outsider", profile="Standard user")
    await Company.filter(id=int(b)).update(manager_id=outsider.id)

    tombstone = await feed(demo, "user1", after=cursor)
    assert keys(tombstone) == [("CONTACT", contact["id"], "DELETE")]
    assert tombstone[0]["deleted"] is True and tombstone[0]["changes"] == {}
    # The contact's creation is no longer shown (the object is gone): only its tombstone.
    assert keys(await feed(demo, "user1")) == [("CONTACT", contact["id"], "DELETE")]
    # The new manager could not see the contact when it was deleted.
    demo.tokens["outsider"] = await demo.login("outsider", "outsider-pass")
    assert await feed(demo, "outsider") == []
    # user2 never could.
    assert await feed(demo, "user2") == []


async def test_deleting_a_company_leaves_tombstones_of_what_went_with_it(demo: Api) -> None:
    b = await company_id("Customer #B")
    contact = await create_contact(demo, "manager1", b, "Ann Lee", "ann@example.com")
    deleted = await demo.data(DELETE_COMPANY, {"id": b}, as_user="manager1")
    assert deleted["companyDelete"]["errors"] == []
    gone = {k for k in keys(await feed(demo, "user1")) if k[2] == "DELETE"}
    assert gone == {("COMPANY", b, "DELETE"), ("CONTACT", contact["id"], "DELETE")}
    assert await feed(demo, "user2") == []


async def test_paging_misses_nothing_and_repeats_nothing(demo: Api) -> None:
    a = await company_id("Customer #A")
    for n in range(7):
        await demo.data(UPDATE_COMPANY, {"id": a, "c": f"note {n}"}, as_user="user1")
    nodes = await feed(demo, "user1")
    assert [n["changes"]["comments"][1] for n in nodes] == [f"note {n}" for n in range(7)]
    # Called again with the last cursor: nothing new, and the cursor stays usable.
    last = (await demo.data(CHANGES, {"first": 100}, as_user="user1"))["changes"]
    again = await demo.data(CHANGES, {"after": last["pageInfo"]["endCursor"]}, as_user="user1")
    assert again["changes"]["edges"] == []
    assert again["changes"]["pageInfo"]["endCursor"] == last["pageInfo"]["endCursor"]
    await demo.data(UPDATE_COMPANY, {"id": a, "c": "later"}, as_user="user1")
    more = await feed(demo, "user1", after=last["pageInfo"]["endCursor"])
    assert [n["changes"]["comments"] for n in more] == [["note 6", "later"]]


async def test_bad_arguments_are_clear_errors(demo: Api) -> None:
    a = await company_id("Customer #A")
    await demo.data(UPDATE_COMPANY, {"id": a, "c": "x"}, as_user="user1")
    forged = await demo.gql(CHANGES, {"after": "not-a-cursor"}, as_user="user1")
    assert error_codes(forged) == ["BAD_USER_INPUT"]
    assert forged["errors"][0]["extensions"]["field"] == "after"
    # A well-formed cursor of a change that does not exist (pruned, or made up).
    import base64

    stale = base64.urlsafe_b64encode(b"change:999999").decode().rstrip("=")
    body = await demo.gql(CHANGES, {"after": stale}, as_user="user1")
    assert error_codes(body) == ["STALE"]
    too_many = await demo.gql(CHANGES, {"first": 1000}, as_user="user1")
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    unknown = await demo.gql(CHANGES, {"types": ["PLANET"]}, as_user="user1")
    assert unknown.get("data") is None and unknown["errors"]
    anonymous = await demo.gql(CHANGES, {})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_each_change_writes_one_event_in_its_transaction(demo: Api) -> None:
    a = await company_id("Customer #A")
    # A refused change (a payload error) rolls back and leaves no event.
    bad = await demo.data(
        'mutation($id: ID!) { companyUpdate(input: {id: $id, name: ""}) { errors { code } } }',
        {"id": a},
        as_user="user1",
    )
    assert bad["companyUpdate"]["errors"]
    assert await Event.all().count() == 0
    await demo.data(UPDATE_COMPANY, {"id": a, "c": "ok"}, as_user="user1")
    assert await Event.all().count() == 1


async def test_an_import_writes_the_events_of_its_rows(demo: Api) -> None:
    from tests.csvdata import SPEC_COLUMNS, to_csv, upload

    parent = await Company.get(name="My company")
    row = ["Imported Ltd", "", "", "ES", "", "", "", str(parent.id), "user1", "", "30", "", "", ""]
    result = await upload(demo, to_csv([SPEC_COLUMNS, row]))
    assert result["created"] == 1, result
    imported = await Company.get(name="Imported Ltd")
    created = [n for n in await feed(demo, "user1") if n["objectId"] == str(imported.id)]
    assert keys(created) == [("COMPANY", str(imported.id), "CREATE")]
    assert created[0]["changes"]["name"] == [None, "Imported Ltd"]
    assert created[0]["actor"] == {"username": "admin"}


async def test_the_feed_costs_the_same_statements_for_more_changes(demo: Api) -> None:
    from crm_graphql.services.sqlcount import count_statements

    a = await company_id("Customer #A")

    async def statements(user: str) -> int:
        await demo.data("{ __typename }", as_user=user)
        with count_statements() as seen:
            data = await demo.data(CHANGES, {"first": 100}, as_user=user)
        assert data["changes"]["edges"]
        return len(seen)

    await demo.data(UPDATE_COMPANY, {"id": a, "c": "first"}, as_user="user1")
    small = {user: await statements(user) for user in ("user1", "admin")}
    for n in range(20):
        await demo.data(UPDATE_COMPANY, {"id": a, "c": f"n{n}"}, as_user="manager1")
    assert {user: await statements(user) for user in ("user1", "admin")} == small


async def test_invoice_changes_carry_money_as_text_and_never_the_internal_note(demo: Api) -> None:
    from tests.invoices_api import create_ok, seed_input

    a = await company_id("Customer #A")
    invoice = await create_ok(
        demo, "admin", seed_input(a, kind="RECEIVED", billId="R-1", internalNote="Call Bob")
    )
    updated = await demo.data(
        """mutation($input: InvoiceUpdateInput!) { invoiceUpdate(input: $input) {
             errors { field code } } }""",
        {"input": {"id": invoice["id"], "internalNote": "Bob says no", "reference": "PO-7"}},
        as_user="admin",
    )
    assert updated["invoiceUpdate"]["errors"] == []
    nodes = await feed(demo, "user1", types=["INVOICE"])
    assert [n["action"] for n in nodes] == ["CREATE", "UPDATE"]
    for node in nodes:
        assert "internalNote" not in node["changes"] and "Bob" not in str(node["changes"])
    assert nodes[0]["changes"]["total"] == [None, "2613.60"]
    assert nodes[1]["changes"]["reference"] == ["", "PO-7"]
    # user2 has no invoice rights on anything: nothing.
    assert await feed(demo, "user2", types=["INVOICE"]) == []


async def test_the_audience_of_a_deletion_is_each_user_s_rule(
    world: dict[str, str], monkeypatch: Any
) -> None:
    """The audience statement unites many users' rules; it must select, for every object
    type, exactly what each user's own list rule selects (two users per statement here,
    so the statements' parameters are renumbered across several parts)."""
    monkeypatch.setattr(event_rules, "USERS_PER_STATEMENT", 2)
    await make_user("nothing")  # the world's viewers, and one who may see nothing
    users = await User.filter(enabled=True, is_superadmin=False).select_related("company")
    bits = await bits_for_users([u.id for u in users])
    assert len(users) > 5
    heard = set()
    for object_type, (model, rule) in event_rules.RULES.items():
        ids = [int(i) for i in await column_values(model.all(), "id")]
        expected: dict[int, list[int]] = {i: [] for i in ids}
        for user in users:
            condition = rule(event_rules._viewer(user, bits.get(user.id, frozenset())))
            if condition is NOTHING:
                continue
            for i in await column_values(model.filter(condition, id__in=ids), "id"):
                expected[int(i)].append(user.id)
        found = await event_rules.audience(object_type, ids)
        assert {i: sorted(u) for i, u in found.items()} == {
            i: sorted(u) for i, u in expected.items()
        }, object_type
        if any(found.values()):
            heard.add(object_type)
    assert heard == set(event_rules.RULES), heard


async def test_a_deletion_costs_the_same_statements_for_ten_or_forty_users(demo: Api) -> None:
    async def statements_of_a_deletion(name: str) -> int:
        b = await company_id("Customer #B")
        contact = await create_contact(demo, "manager1", b, name, f"{name}@example.com")
        with count_statements() as statements:
            deleted = await demo.data(DELETE_CONTACT, {"id": contact["id"]}, as_user="manager1")
        assert deleted["contactDelete"]["errors"] == []
        return len(statements)

    for n in range(10):
        await make_user(f"few{n}", profile="Standard user")
    few = await statements_of_a_deletion("first")
    for n in range(30):
        await make_user(f"more{n}", profile="Standard user")
    assert await statements_of_a_deletion("second") == few
