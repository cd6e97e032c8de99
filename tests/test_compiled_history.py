"""Record history (issue 16) on the compiled read path: `history` of companies,
contacts, contracts and invoices and a lead's `changeHistory`, every Change field (its
`changes` JSON as stored, its own `cursor`), answered in one statement exactly as the
executor answers them, for the seven viewers of the differential world
(tests/differential.build_world: creates, updates and deletions of objects of every kind
by users, the system and a deleted user)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crm_graphql.services.sqlcount import count_statements
from tests.differential import VIEWERS, Differential, build_world, differential, load_corpus


@pytest.fixture
async def paths() -> AsyncIterator[Differential]:
    async with differential() as both:
        yield both


@pytest.fixture
async def world() -> dict[str, str]:
    return await build_world()


def _compiled(statements: list[str]) -> bool:
    return any("crm_node" in s for s in statements)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _counted(
    paths: Differential, query: str, variables: Any, token: str
) -> tuple[Any, list[str]]:
    """The answer (checked equal on both paths) and the compiled app's statements after
    authentication."""
    await paths.compiled.post("/graphql", json={"query": "{ __typename }"}, headers=_auth(token))
    with count_statements() as auth:
        await paths.compiled.post(
            "/graphql", json={"query": "{ __typename }"}, headers=_auth(token)
        )
    with count_statements() as statements:
        response = await paths.compiled.post(
            "/graphql", json={"query": query, "variables": variables}, headers=_auth(token)
        )
    interpreted, compiled = await paths.answers(query, variables, token)
    assert compiled.body == interpreted.body, json.dumps([compiled.body, interpreted.body])
    assert response.json() == compiled.body
    return compiled.body, list(statements)[len(auth) :]


CHANGE = """fragment C on ChangeConnection { totalCount
  pageInfo { hasNextPage startCursor endCursor }
  edges { cursor node { __typename createdAt changes id objectType objectId action deleted
    actorId actor { username } cursor } } }"""

QUERIES = {
    "companies": CHANGE
    + """ query Q($n: Int) { companies(first: 12) { edges { node { name history(first: $n) {
      ...C } contacts(first: 2) { edges { node { fullName history(first: $n) { ...C } } } }
      } } } }""",
    "contracts": CHANGE
    + """ query Q($n: Int) { contracts(first: 20, filter: {status: {in: [ACTIVE, INACTIVE]}}) {
      edges { node { reference history(first: $n) { ...C } } } } }""",
    "invoices": CHANGE
    + """ query Q($n: Int) { invoices(first: 25) { edges { node { billId
      history(first: $n) { ...C } } } } }""",
    "leads": CHANGE
    + """ query Q($n: Int) { leads(first: 30, filter: {showFinished: true}) { edges {
      node { fullName changeHistory(first: $n) { ...C } } } } }""",
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("root", sorted(QUERIES))
async def test_history_is_compiled_and_identical(
    paths: Differential, world: dict[str, str], viewer: str, root: str
) -> None:
    for n in (2, 12):
        body, statements = await _counted(paths, QUERIES[root], {"n": n}, world[viewer])
        if body.get("errors"):  # no right to the list: the executor refuses, as before
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not _compiled(statements)
            return
        assert len(statements) == 1 and _compiled(statements), statements
        if viewer == "admin":
            text = json.dumps(body)
            assert '"hasNextPage": true' in text or n == 12
            assert '"deleted": true' in text
            assert '"actor": null' in text and '"actorId": "999999"' in text


@pytest.mark.parametrize("viewer", ["admin", "manager1", "lead_seller"])
async def test_a_lead_s_change_history_by_id_is_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    query = """query L($id: ID!) { lead(id: $id) { fullName
      changeHistory(first: 3) { edges { cursor node { action changes cursor } } } } }"""
    body, _ = await _counted(
        paths, "{ leads(first: 30) { edges { node { id } } } }", None, world[viewer]
    )
    ids = [e["node"]["id"] for e in body["data"]["leads"]["edges"]]
    assert ids
    for lead_id in ids:
        body, statements = await _counted(paths, query, {"id": lead_id}, world[viewer])
        assert "errors" not in body, body
        assert len(statements) == 1 and _compiled(statements), statements


@pytest.mark.parametrize("viewer", ["admin", "manager1", "lead_seller"])
async def test_the_corpus_history_runs_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == "history"]
    for variables in case.variables:
        body, statements = await _counted(paths, case.query, variables, world[viewer])
        if viewer == "lead_seller":  # no CR: companies are refused by the executor
            assert not _compiled(statements)
            continue
        assert "errors" not in body, body
        assert len(statements) == 2 and _compiled(statements), (variables, statements)
