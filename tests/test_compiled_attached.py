"""Files and record history on the compiled read path: the `files` of companies,
contacts, contracts, invoices and leads (every File field: `downloadUrl` under the
request's root path, `viewerCan`), their `history` and a lead's `changeHistory` (every
Change field: `changes` as stored, its own `cursor`), answered in one statement exactly
as the executor answers them, for the seven viewers of the differential world
(tests/differential.build_world: files of every owner kind uploaded by users of
differing rights; creates, updates and deletions by users, the system and a deleted
user)."""

from __future__ import annotations

import json
from itertools import pairwise

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
    compare,
    compiled_ran,
    counted,
    load_corpus,
    path_settings,
)

FRAGMENTS = {
    "files": """fragment F on FileConnection { totalCount
  pageInfo { hasNextPage startCursor endCursor }
  edges { cursor node { __typename id originalName contentType size sha256 description
    createdAt ownerKind ownerId uploader { username } downloadUrl viewerCan { delete }
    viewerCanDelete } } }""",
    "history": """fragment F on ChangeConnection { totalCount
  pageInfo { hasNextPage startCursor endCursor }
  edges { cursor node { __typename createdAt changes id objectType objectId action deleted
    actorId actor { username } cursor } } }""",
}

# Per root list, its rows with the field (`{f}`; a lead's record history is
# `changeHistory`) given the fragment, under $n rows per parent.
ROOTS = {
    "companies": """companies(first: 12) { edges { node { name {f}(first: $n) { ...F }
      contacts(first: 2) { edges { node { fullName {f}(first: $n) { ...F } } } } } } }""",
    "contracts": """contracts(first: 20, filter: {status: {in: [ACTIVE, INACTIVE]}}) {
      edges { node { reference {f}(first: $n) { ...F } } } }""",
    "invoices": "invoices(first: 25) { edges { node { billId {f}(first: $n) { ...F } } } }",
    "leads": """leads(first: 30, filter: {showFinished: true}) { edges {
      node { fullName {lead}(first: $n) { ...F } } } }""",
}


def query(field: str, root: str) -> str:
    lead = "changeHistory" if field == "history" else field
    selection = ROOTS[root].replace("{f}", field).replace("{lead}", lead)
    return f"{FRAGMENTS[field]} query Q($n: Int) {{ {selection} }}"


def _admin_sees_the_world(field: str, n: int, text: str) -> None:
    """What the world holds came back (compiled): more than a page, every kind."""
    assert '"hasNextPage": true' in text or n == 12
    if field == "files":
        assert '"downloadUrl": "/files/' in text
    else:
        assert '"deleted": true' in text
        assert '"actor": null' in text and '"actorId": "999999"' in text


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("root", sorted(ROOTS))
@pytest.mark.parametrize("field", sorted(FRAGMENTS))
async def test_files_and_history_are_compiled_and_identical(
    paths: Differential, world: dict[str, str], field: str, viewer: str, root: str
) -> None:
    for n in (2, 12):
        body, statements = await counted(paths, query(field, root), {"n": n}, world[viewer])
        if body.get("errors"):  # no right to the list: the executor refuses, as before
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not compiled_ran(statements)
            return
        assert len(statements) == 1 and compiled_ran(statements), statements
        if viewer == "admin":
            _admin_sees_the_world(field, n, json.dumps(body))


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
                        json={"query": query("files", "leads"), "variables": {"n": 1}},
                        headers={"Authorization": f"Bearer {world['admin']}"},
                    )
                answers.append(Answer.of(response))
                assert compiled_ran(list(statements)) == compiled
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
    text = """{ contracts(first: 20, filter: {status: {in: [ACTIVE, INACTIVE]}}) { edges {
      node { reference relatedContracts { reference files(first: 1) {
        pageInfo { endCursor } edges { cursor node { id } } } } } } } }"""
    body, statements = await counted(paths, text, None, world[viewer])
    assert len(statements) == 1 and compiled_ran(statements), statements
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
            text = f"""{{ {root}(id: "{owner_id}") {{ files(first: 50) {{ edges {{ node {{
              id viewerCanDelete }} }} }} }} }}"""
            response = await paths.interpreted.post(
                "/graphql",
                json={"query": text},
                headers={"Authorization": f"Bearer {world[viewer]}"},
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
async def test_a_lead_s_change_history_by_id_is_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    text = """query L($id: ID!) { lead(id: $id) { fullName
      changeHistory(first: 3) { edges { cursor node { action changes cursor } } } } }"""
    body, _ = await counted(
        paths, "{ leads(first: 30) { edges { node { id } } } }", None, world[viewer]
    )
    ids = [e["node"]["id"] for e in body["data"]["leads"]["edges"]]
    assert ids
    for lead_id in ids:
        body, statements = await counted(paths, text, {"id": lead_id}, world[viewer])
        assert "errors" not in body, body
        assert len(statements) == 1 and compiled_ran(statements), statements


@pytest.mark.parametrize("viewer", ["admin", "manager1", "lead_seller"])
@pytest.mark.parametrize("name", ["activities", "files", "history"])
async def test_the_corpus_of_these_fields_runs_compiled(
    paths: Differential, world: dict[str, str], name: str, viewer: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == name]
    for variables in case.variables:
        body, statements = await counted(paths, case.query, variables, world[viewer])
        if viewer == "lead_seller":  # no CR: companies are refused by the executor
            # (the roots it may read are compiled beside, and dropped with `data`)
            assert body["data"] is None, body
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            continue
        assert "errors" not in body, body
        assert len(statements) == 2 and compiled_ran(statements), (variables, statements)
