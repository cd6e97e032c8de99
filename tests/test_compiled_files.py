"""Files on the compiled read path: the `files` of companies, contacts, contracts,
invoices and leads, with every File field (`downloadUrl` under the request's root path,
`viewerCan`), answered in one statement exactly as the executor answers them, for the
seven viewers of the differential world (tests/differential.build_world: files of every
owner kind, uploaded by users of differing rights)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from crm_graphql.app import create_app
from crm_graphql.models.contracts import Contract, ContractLink
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.permissions.files import deletable_files_q, visible_files_q
from crm_graphql.services.auth import authenticate
from crm_graphql.services.sqlcount import count_statements
from tests.differential import (
    VIEWERS,
    Answer,
    Differential,
    build_world,
    compare,
    differential,
    load_corpus,
    path_settings,
)


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


FILE = """fragment F on FileConnection { totalCount pageInfo { hasNextPage startCursor endCursor }
  edges { cursor node { __typename id originalName contentType size sha256 description
    createdAt ownerKind ownerId uploader { username } downloadUrl viewerCan { delete }
    viewerCanDelete } } }"""

QUERIES = {
    "companies": FILE
    + """ query Q($n: Int) { companies(first: 12) { edges { node { name files(first: $n) { ...F }
      contacts(first: 2) { edges { node { fullName files(first: $n) { ...F } } } } } } } }""",
    "contracts": FILE
    + """ query Q($n: Int) { contracts(first: 20, filter: {status: {in: [ACTIVE, INACTIVE]}}) {
      edges { node { reference files(first: $n) { ...F } } } } }""",
    "invoices": FILE
    + """ query Q($n: Int) { invoices(first: 25) { edges { node { billId
      files(first: $n) { ...F } } } } }""",
    "leads": FILE
    + """ query Q($n: Int) { leads(first: 30, filter: {showFinished: true}) { edges {
      node { fullName files(first: $n) { ...F } } } } }""",
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("root", sorted(QUERIES))
async def test_files_are_compiled_and_identical(
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
            assert ('"hasNextPage": true' in text) == (n == 2)
            assert '"downloadUrl": "/files/' in text


async def test_the_download_url_starts_with_the_root_path(world: dict[str, str]) -> None:
    answers = []
    for compiled in (False, True):
        app = create_app(path_settings(compiled))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, root_path="/crm")
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                with count_statements() as statements:
                    response = await http.post(
                        "/graphql",
                        json={"query": QUERIES["leads"], "variables": {"n": 1}},
                        headers=_auth(world["admin"]),
                    )
                answers.append(Answer.of(response))
                assert _compiled(list(statements)) == compiled
    compare(*answers)
    assert '"downloadUrl": "/crm/files/' in json.dumps(answers[1].body)


@pytest.mark.parametrize("viewer", ["admin", "manager1"])
async def test_cursors_under_related_contracts_are_encoded(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    # Found with files: a nested cursor under relatedContracts (a plain list) came back
    # as the database's sort values, the list's rows not being walked for cursors.
    contracts = await Contract.all().order_by("id")
    for one, other in pairwise(contracts):
        await ContractLink.create(contract=one, related=other)
    query = """{ contracts(first: 20, filter: {status: {in: [ACTIVE, INACTIVE]}}) { edges {
      node { reference relatedContracts { reference files(first: 1) {
        pageInfo { endCursor } edges { cursor node { id } } } } } } } }"""
    body, statements = await _counted(paths, query, None, world[viewer])
    assert len(statements) == 1 and _compiled(statements), statements
    assert '"cursor": "' in json.dumps(body)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_sql_rule_of_deleting_a_file_is_the_python_one(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    # The resolver's answer (the executor's viewerCanDelete, per visible file) against
    # the SQL form over the same files.
    found = await authenticate(world[viewer])
    visible = await StoredFile.filter(visible_files_q(found)).order_by("id")
    expected: dict[int, bool] = {}
    kinds = {
        FileOwner.COMPANY: "company",
        FileOwner.CONTACT: "contact",
        FileOwner.CONTRACT: "contract",
        FileOwner.INVOICE: "invoice",
        FileOwner.LEAD: "lead",
    }
    for kind, root in kinds.items():
        owners = sorted({f.owner_id for f in visible if f.owner_kind == kind})
        for owner_id in owners:
            query = f"""{{ {root}(id: "{owner_id}") {{ files(first: 50) {{ edges {{ node {{
              id viewerCanDelete }} }} }} }} }}"""
            response = await paths.interpreted.post(
                "/graphql", json={"query": query}, headers=_auth(world[viewer])
            )
            for edge in response.json()["data"][root]["files"]["edges"]:
                expected[int(edge["node"]["id"])] = edge["node"]["viewerCanDelete"]
    assert set(expected) == {f.id for f in visible}
    if viewer == "admin":
        assert expected and all(expected.values())
    elif viewer in ("user1", "standalone"):
        assert set(expected.values()) == {True, False}
    deletable = await StoredFile.filter(visible_files_q(found), deletable_files_q(found))
    assert {f.id for f in deletable} == {i for i, can in expected.items() if can}


@pytest.mark.parametrize("viewer", ["admin", "manager1", "lead_seller"])
async def test_the_corpus_files_run_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == "files"]
    for variables in case.variables:
        body, statements = await _counted(paths, case.query, variables, world[viewer])
        if viewer == "lead_seller":  # no CR: companies are refused by the executor
            assert not _compiled(statements)
            continue
        assert "errors" not in body, body
        assert len(statements) == 2 and _compiled(statements), (variables, statements)
