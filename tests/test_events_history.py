"""Record history (issue 16): `history` on companies, contacts, contracts and invoices,
`changeHistory` on leads (whose `history` lines stay), from the event log, visible to
whoever can view the object, in a statement count that does not grow with the rows."""

from __future__ import annotations

from crm_graphql.services.sqlcount import count_statements
from tests.contacts_api import create_contact
from tests.factories import Api, company_id

UPDATE_COMPANY = """mutation($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { errors { field code } }
}"""
COMPANY_HISTORY = """query($id: ID!) {
  company(id: $id) {
    history(first: 2) { totalCount edges { node { action changes actor { username } } } }
  }
}"""
LIST_HISTORY = """{
  companies(first: 100) { edges { node { name
    history(first: 5) { totalCount edges { node { action changes } } }
    contacts(first: 10) { edges { node { fullName history { totalCount } } } }
  } } }
}"""


async def test_a_company_history_shows_who_changed_what_newest_first(demo: Api) -> None:
    a = await company_id("Customer #A")
    for text in ("one", "two", "three"):
        await demo.data(UPDATE_COMPANY, {"id": a, "c": text}, as_user="user1")
    data = await demo.data(COMPANY_HISTORY, {"id": a}, as_user="manager1")
    history = data["company"]["history"]
    assert history["totalCount"] == 3
    assert [e["node"]["changes"]["comments"] for e in history["edges"]] == [
        ["two", "three"],
        ["one", "two"],
    ]
    assert history["edges"][0]["node"]["actor"] == {"username": "user1"}
    # Who cannot see the company cannot reach its history.
    hidden = await demo.gql(COMPANY_HISTORY, {"id": a}, as_user="user2")
    assert hidden.get("data") is None or hidden["data"]["company"] is None


async def test_history_costs_the_same_statements_for_more_rows(demo: Api) -> None:
    async def statements() -> tuple[int, dict]:
        await demo.data("{ __typename }", as_user="manager1")
        with count_statements() as seen:
            data = await demo.data(LIST_HISTORY, as_user="manager1")
        return len(seen), data

    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    await demo.data(UPDATE_COMPANY, {"id": a, "c": "x"}, as_user="manager1")
    await create_contact(demo, "manager1", a, "Ann Lee", "ann@example.com")
    small, _ = await statements()
    for n in range(6):
        await demo.data(UPDATE_COMPANY, {"id": b, "c": f"b{n}"}, as_user="manager1")
        await create_contact(demo, "manager1", b, f"Bo {n}", f"bo{n}@example.com")
    large, data = await statements()
    assert large == small
    nodes = {e["node"]["name"]: e["node"] for e in data["companies"]["edges"]}
    assert nodes["Customer #B"]["history"]["totalCount"] == 6
    assert len(nodes["Customer #B"]["history"]["edges"]) == 5
    contacts = nodes["Customer #B"]["contacts"]["edges"]
    assert [c["node"]["history"]["totalCount"] for c in contacts] == [1] * 6


async def test_leads_keep_their_history_lines_and_get_the_change_log(demo: Api) -> None:
    created = await demo.data(
        """mutation { leadCreate(input: {fullName: "Lee Ray", email: "lee@example.com"}) {
             lead { id } errors { field code } } }""",
        as_user="admin",
    )
    lead = created["leadCreate"]["lead"]["id"]
    data = await demo.data(
        """query($id: ID!) { lead(id: $id) {
             history { edges { node { kind } } }
             changeHistory { edges { node { action changes } } } } }""",
        {"id": lead},
        as_user="admin",
    )
    assert [e["node"]["kind"] for e in data["lead"]["history"]["edges"]] == ["CREATED"]
    changes = data["lead"]["changeHistory"]["edges"]
    assert [e["node"]["action"] for e in changes] == ["CREATE"]
    assert changes[0]["node"]["changes"]["fullName"] == [None, "Lee Ray"]
