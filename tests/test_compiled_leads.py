"""The lead list on the compiled read path: `leads` answers in one statement (two with
totalCount) exactly as the executor does, for the seven viewers of the differential
world (tests/differential.build_world) with more leads around it: stale ones, CRM
setup's progress names, tags whose names sort differently by code point and by
language, lead types, alarms, filters, orders and the pages their cursors give."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.leads import Lead, LeadTag
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from tests.differential import (
    VIEWERS,
    Differential,
    build_world,
    compiled_ran,
    counted,
    load_corpus,
)
from tests.factories import (
    make_custom_field,
    make_custom_value,
    make_lead,
    make_lead_tag,
    make_lead_type,
)


@pytest.fixture
async def world() -> dict[str, str]:
    tokens = await build_world()
    now = datetime.now(UTC)
    # Code point order (Python's sort, the loader's) differs from a language's here.
    tags = [await make_lead_tag(name) for name in ("Zeta", "alpha", "Émigré", "zeta")]
    kind = await make_lead_type("Inbound", description="From the web form")
    other = await make_lead_type("Partner")
    # Custom fields of the two types (positions out of id order), one without a type.
    budget = await make_custom_field(
        CustomFieldEntity.LEAD, "Budget", "NUMERIC", owner_id=kind.id, position=2
    )
    source = await make_custom_field(
        CustomFieldEntity.LEAD,
        "Source",
        "COMBO",
        owner_id=kind.id,
        position=1,
        options=["web", "fair"],
    )
    await make_custom_field(CustomFieldEntity.LEAD, "Referrer", owner_id=other.id)
    seller = await User.get(username="lead_seller")
    for n in range(6):
        lead = await make_lead(
            f"Old {n}",
            tags=tuple(tags[n % 4 :]),
            owner=(seller, None, None)[n % 3],
            lead_type=(None, kind, other)[n % 3],
            progress=(0, 60, 80, 101, 200, 20)[n],
            alarm_at=datetime(2026, 3, 1, 8, 0, 0, n * 250_000 % 1_000_000, tzinfo=UTC),
            duplicate=n % 2 == 0,
            estimated_sale_cents=-n * 1_001,
        )
        if n % 3 == 1 and n > 1:
            await make_custom_value(budget, lead.id, str(n * 1000))
            await make_custom_value(source, lead.id, "fair")
        # Unchanged for 10 to 60 days (stale after 30 by default), two near the limit
        # (minutes off: the paths measure it a few milliseconds apart).
        age = timedelta(days=10 * (n + 1), minutes=(0, -5, 5)[n % 3])
        await Lead.filter(id=lead.id).update(updated_at=now - age)
    # CRM setup's own names for some steps (an empty one keeps the default).
    setup, _ = await CrmSetup.get_or_create(id=1)
    setup.lead_progress_names = {"20": "Demo booked", "60": "Quote sent", "40": ""}
    await setup.save()
    return tokens


LEADS = """query L($filter: LeadFilter, $order: [LeadOrder!], $after: String, $n: Int) {
  leads(filter: $filter, orderBy: $order, first: $n, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id fullName estimatedSale currency closeDate alarmAt duplicate
      createdAt updatedAt version progress { code name closed } closed stale
      owner { username } company { name } leadType { name description }
      tags { name colour } viewerCan { edit take delete sendMail }
      customFields { name value kind sectionName field { id position options } } } } } }"""


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CASES: list[dict[str, Any]] = [
    {"filter": None, "order": None, "n": 3},
    {"filter": {"showFinished": True}, "order": [{"field": "PROGRESS"}], "n": 4},
    {
        "filter": {"or": [{"unowned": True}, {"owner": {"username": {"eq": "user1"}}}]},
        "order": [{"field": "CLOSE_DATE", "direction": "DESC"}],
        "n": 2,
    },
    {
        "filter": {"progress": {"in": [20, 60, 101]}, "not": {"country": {"eq": "France"}}},
        "order": [{"field": "ESTIMATED_SALE"}, {"field": "UPDATED_AT", "direction": "DESC"}],
        "n": 5,
    },
]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_lead_list_is_compiled_and_identical(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    token = world[viewer]
    seen: set[str] = set()
    for case in CASES:
        after = None
        for _ in range(12):
            body, statements = await counted(paths, LEADS, {**case, "after": after}, token)
            if viewer in ("user2", "invoice_reader"):  # no lead bit: refused by the executor
                assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
                assert not compiled_ran(statements)
                return
            assert "errors" not in body, body
            assert len(statements) == 1 and compiled_ran(statements), statements
            page = body["data"]["leads"]
            seen |= {json.dumps(e["node"], sort_keys=True) for e in page["edges"]}
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    nodes = [json.loads(n) for n in seen]
    if viewer == "admin":
        # The world holds what the fields must show: all of it came back compiled.
        assert {n["stale"] for n in nodes} == {True, False}
        names = {n["progress"]["name"] for n in nodes}
        assert {"Demo booked", "Quote sent", "Needs discovered", "Closed - lost"} <= names
        tags = [[t["name"] for t in n["tags"]] for n in nodes]
        assert ["Zeta", "alpha", "zeta", "Émigré"] in tags
        assert any(n["leadType"] for n in nodes) and any(n["company"] for n in nodes)


@pytest.mark.parametrize("viewer", ["admin", "user1", "lead_seller", "standalone"])
async def test_the_total_count_is_a_second_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    query = """{ leads(first: 100, filter: {showFinished: true}) { totalCount __typename
      edges { node { fullName viewerCan { __typename take } } } } }"""
    body, statements = await counted(paths, query, None, world[viewer])
    assert len(statements) == 2 and compiled_ran(statements), statements
    assert body["data"]["leads"]["totalCount"] == len(body["data"]["leads"]["edges"])


@pytest.mark.parametrize(
    "query",
    [
        # Fields left to the executor: their root runs there, same answer.
        "{ leads { edges { node { fullName owner { username permissions } } } } }",
        # Errors: the resolver's (another user's saved search, a bad cursor).
        '{ leads(savedSearchId: "1") { edges { node { fullName } } } }',
        '{ leads(after: "bogus") { edges { node { fullName } } } }',
    ],
)
async def test_what_is_not_covered_runs_on_the_executor(
    paths: Differential, world: dict[str, str], query: str
) -> None:
    _, statements = await counted(paths, query, None, world["manager1"])
    assert not compiled_ran(statements)


async def test_without_a_setup_row_the_defaults_apply(
    paths: Differential, world: dict[str, str]
) -> None:
    await CrmSetup.all().delete()
    query = """{ leads(first: 50, filter: {showFinished: true}) { edges { node {
      progress { code name } stale } } } }"""
    # Compiled first: the executor's read of CRM setup creates the row.
    on = await paths.compiled.post("/graphql", json={"query": query}, headers=_auth(world["admin"]))
    off = await paths.interpreted.post(
        "/graphql", json={"query": query}, headers=_auth(world["admin"])
    )
    assert on.json() == off.json()
    assert await LeadTag.filter(name="Zeta").exists()
    nodes = [e["node"] for e in on.json()["data"]["leads"]["edges"]]
    assert {"code": 20, "name": "Meeting arranged"} in [n["progress"] for n in nodes]
    assert any(n["stale"] for n in nodes)


@pytest.mark.parametrize("viewer", ["admin", "manager1", "standalone"])
async def test_the_corpus_lead_list_runs_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == "lead_list"]
    for variables in case.variables:
        body, statements = await counted(paths, case.query, variables, world[viewer])
        assert "errors" not in body, body
        # the page and its totalCount
        assert len(statements) == 2 and compiled_ran(statements), (variables, statements)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_lead_custom_fields_are_their_types_fields_with_the_leads_values(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    query = """{ leads(first: 50, filter: {showFinished: true, fullName: {contains: "Old"}}) {
      edges { node { fullName leadType { name }
        customFields { name value kind sectionName field { id position } } } } } }"""
    body, statements = await counted(paths, query, None, world[viewer])
    if body.get("errors"):  # no lead bits: refused (and audited) by the executor
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not compiled_ran(statements)
        return
    assert len(statements) == 1 and compiled_ran(statements), statements
    nodes = {e["node"]["fullName"]: e["node"] for e in body["data"]["leads"]["edges"]}
    if viewer == "admin":
        assert [f["name"] for f in nodes["Old 4"]["customFields"]] == ["Source", "Budget"]
        assert [f["value"] for f in nodes["Old 4"]["customFields"]] == ["fair", "4000"]
        assert [f["value"] for f in nodes["Old 1"]["customFields"]] == [None, None]
        assert [f["name"] for f in nodes["Old 2"]["customFields"]] == ["Referrer"]
        assert nodes["Old 0"]["customFields"] == []


LEAD = """query L($id: ID!) { lead(id: $id) { __typename id fullName estimatedSale
  progress { code name closed } stale owner { username } company { name }
  tags { name } customFields { name value } viewerCan { edit take } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_a_lead_by_id_is_compiled_when_visible(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    found = 0
    for lead in await Lead.all().order_by("id"):
        body, statements = await counted(paths, LEAD, {"id": str(lead.id)}, world[viewer])
        if body.get("data"):
            found += 1
            assert body["data"]["lead"]["id"] == str(lead.id)
            assert len(statements) == 1 and compiled_ran(statements), statements
        else:
            # Invisible, or no lead bits: the executor's error, as before.
            assert body["errors"][0]["extensions"]["code"] in ("NOT_FOUND", "FORBIDDEN")
    if viewer == "admin":
        assert found == await Lead.all().count()
    elif viewer == "lead_seller":
        assert found > 0
