"""Activities on the compiled read path: a lead's history lines and activities, and an
activity's `viewerCan` (companies' and contacts' activities), answered in one statement
exactly as the executor answers them, for the seven viewers of the differential world
(tests/differential.build_world: lead lines of every kind, with and without a user,
equal times, more than a page for one lead)."""

from __future__ import annotations

import pytest

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.users import User
from crm_graphql.permissions.activities import can_change_activity, changeable_activities_q
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.services.auth import authenticate
from tests.differential import (
    VIEWERS,
    Differential,
    compiled_ran,
    counted,
)

LEAD_LINES = """query L($n: Int) { leads(first: 30, filter: {showFinished: true}) { edges {
  node { fullName
    history(first: $n) { totalCount __typename pageInfo { hasNextPage startCursor endCursor }
      edges { cursor node { __typename id description createdAt kind user { username } } } }
    activities(first: $n) { totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id text sender subject createdAt kind author { username } } } }
  } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_lead_history_and_activities_are_compiled_and_identical(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    for n in (None, 2, 12):
        body, statements = await counted(paths, LEAD_LINES, {"n": n}, world[viewer])
        if body.get("errors"):  # no lead bits: the executor refuses, as before
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not compiled_ran(statements)
            return
        assert len(statements) == 1 and compiled_ran(statements), statements
        if viewer != "admin":
            continue
        nodes = [e["node"] for e in body["data"]["leads"]["edges"]]
        # The world's lines came back compiled: every kind, a next page, no user.
        history = [e["node"] for n_ in nodes for e in n_["history"]["edges"]]
        activities = [e["node"] for n_ in nodes for e in n_["activities"]["edges"]]
        assert {a["kind"] for a in activities} >= {"NOTE", "MAIL_SENT", "MAIL_RECEIVED"}
        assert any(a["author"] is None for a in activities)
        assert any(h["user"] is None for h in history) and len({h["kind"] for h in history}) > 5
        more = [n_["activities"]["pageInfo"]["hasNextPage"] for n_ in nodes]
        assert any(more) == (n != 12)


@pytest.mark.parametrize("viewer", ["admin", "lead_seller", "manager1"])
async def test_a_lead_by_id_with_its_lines_is_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    query = """query L($id: ID!) { lead(id: $id) { fullName
      history { totalCount edges { node { kind description } } }
      activities(first: 3) { edges { cursor node { kind text author { realName } } } } } }"""
    body, _ = await counted(
        paths, "{ leads(first: 50) { edges { node { id } } } }", None, world[viewer]
    )
    ids = [e["node"]["id"] for e in body["data"]["leads"]["edges"]]
    assert ids
    for lead_id in ids:
        body, statements = await counted(paths, query, {"id": lead_id}, world[viewer])
        assert "errors" not in body, body
        assert len(statements) == 1 and compiled_ran(statements), statements


ACTIVITY_CAN = """{ companies(first: 30) { edges { node { name
  activities(first: 5) { edges { node { id text author { username }
    viewerCan { __typename edit delete } } } }
  contacts(first: 3) { edges { node { fullName activities(first: 3) { edges { node { id
    viewerCan { delete edit } } } } } } } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_an_activity_s_viewer_can_is_compiled_and_identical(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    body, statements = await counted(paths, ACTIVITY_CAN, None, world[viewer])
    if body.get("errors"):  # no right to companies: the executor refuses, as before
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not compiled_ran(statements)
        return
    assert len(statements) == 1 and compiled_ran(statements), statements
    flags = [
        e["node"]["viewerCan"]["edit"]
        for c in body["data"]["companies"]["edges"]
        for e in c["node"]["activities"]["edges"]
    ]
    if viewer in ("admin", "manager1"):
        assert flags and all(flags)
    elif viewer == "user1":
        # Only those of companies user1 may edit and, without CM, wrote.
        assert True in flags and False in flags


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_sql_rule_of_changing_an_activity_is_the_python_one(
    world: dict[str, str], viewer: str
) -> None:
    user = await User.get(username=viewer)
    found = await authenticate(world[viewer])
    assert found is not None and found.user.id == user.id
    visible = {c.id: c for c in await Company.filter(visible_companies_q(found))}
    activities = await Activity.filter(company_id__in=list(visible)).order_by("id")
    # (user2 and lead_seller see no company with activities: the rule must give none.)
    assert activities or viewer in ("user2", "lead_seller")
    expected = {a.id for a in activities if can_change_activity(found, visible[a.company_id], a)}
    rule = changeable_activities_q(found)
    assert set(await Activity.filter(rule).values_list("id", flat=True)) == expected
