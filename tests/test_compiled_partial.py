"""Per-root-field fallback of the compiled read path (issue 15): in one operation, the
root fields the compiler covers are compiled and the others (not in the catalog,
refused for the viewer, or declined at run time: bad input, an unknown id) run on the
executor, which produces their values and errors. The response is the executor's alone,
byte for byte: key order (aliases, fragments, @skip/@include), errors and their paths,
`data: null` when a non-null root fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.differential import (
    VIEWERS,
    Answer,
    Differential,
    compare,
    compiled_ran,
    compiled_statements,
    differential,
    on_postgres,
)


@pytest.fixture
async def paths() -> AsyncIterator[Differential]:
    async with differential() as both:
        yield both


async def _both(
    paths: Differential, query: str, token: str, variables: Any = None
) -> tuple[httpx.Response, httpx.Response]:
    """The executor's and the compiled app's responses to the same request."""
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "partial"}
    body = {"query": query, "variables": variables}
    interpreted = await paths.interpreted.post("/graphql", json=body, headers=headers)
    compiled = await paths.compiled.post("/graphql", json=body, headers=headers)
    return interpreted, compiled


def _same(interpreted: httpx.Response, compiled: httpx.Response) -> None:
    """The same answer: the very bytes on SQLite; on PostgreSQL, whose JSON text puts
    spaces around a compiled object's colons, the same JSON value with its key order."""
    assert compiled.status_code == interpreted.status_code
    if on_postgres():
        compare(Answer.of(interpreted), Answer.of(compiled))
        assert list(compiled.json()) == list(interpreted.json())
    else:
        assert compiled.content == interpreted.content


def _statements_on(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if f'"{table}"' in s]


# Compiled roots (leads, companies, a single object, a root list) beside roots the
# compiler does not cover (viewer, leadStatistics, users, crmSetup-like reads).
MIXED = {
    "leads_and_statistics": """{
      leads(first: 3) { totalCount edges { cursor node { fullName progress { code } } } }
      leadStatistics { conversionRate byCountry { country count } }
      viewer { username } }""",
    "aliases_and_fragments": """query Mixed {
      me: viewer { username }
      ...Lists
      first: companies(first: 2) { edges { node { name } } }
      ... on Query { stats: leadStatistics { conversionRate } tags: leadTags { name } }
      second: companies(first: 1, orderBy: [{field: NAME, direction: DESC}]) {
        pageInfo { hasNextPage endCursor } edges { node { name } } }
      skipped: viewer @skip(if: true) { id }
      included: contractTypes @include(if: true) { name }
    }
    fragment Lists on Query { leadProgressSteps { code name } contacts(first: 2) {
      edges { node { fullName } } } }""",
    "executor_errors_beside": """{
      companies(first: 2) { edges { node { name } } }
      others: companies(first: 3) { edges { node { name manager { username permissions } } } }
      viewer { username permissions } }""",
}


@pytest.mark.parametrize("case", list(MIXED))
@pytest.mark.parametrize("viewer", VIEWERS)
async def test_a_mixed_operation_answers_as_the_executor_alone(
    paths: Differential, world: dict[str, str], case: str, viewer: str
) -> None:
    query = MIXED[case]
    interpreted, compiled = await _both(paths, query, world[viewer])
    assert compiled.status_code == interpreted.status_code == 200
    body = interpreted.json()
    if len(body.get("errors") or ()) <= 1:
        # No errors or one: the same bytes (key order, error paths and all).
        _same(interpreted, compiled)
    else:
        await paths.check(query, None, world[viewer], f"{case} as {viewer}")
    _, statements = await compiled_statements(paths, query, world[viewer])
    if body.get("data") is not None and "errors" not in body:
        assert compiled_ran(statements), statements


async def test_the_compiled_roots_run_their_statements_and_the_executors_theirs(
    paths: Differential, world: dict[str, str]
) -> None:
    """`companies` compiled, `users` on the executor: the mixed operation costs the
    compiled statement of the one and the executor's statements of the other."""
    token = world["admin"]
    companies = "{ companies(first: 3) { edges { node { name contacts { totalCount } } } } }"
    users = "{ users(first: 2) { totalCount edges { node { username } } } }"
    mixed = """{ companies(first: 3) { edges { node { name contacts { totalCount } } } }
      users(first: 2) { totalCount edges { node { username } } } }"""
    alone, compiled_alone = await compiled_statements(paths, companies, token)
    assert len(compiled_alone) == 1 and compiled_ran(compiled_alone)
    _, executor_alone = await compiled_statements(paths, users, token)
    assert executor_alone and not compiled_ran(executor_alone)
    answer, statements = await compiled_statements(paths, mixed, token)
    assert "errors" not in answer.body, answer.body
    assert answer.body["data"]["companies"] == alone.body["data"]["companies"]
    assert len(statements) == len(compiled_alone) + len(executor_alone), statements
    # Companies are read once, by the compiled statement; users by the executor.
    assert [s for s in _statements_on(statements, "companies") if "crm_node" in s] == [
        s for s in statements if "crm_node" in s
    ]
    assert len(_statements_on(statements, "companies")) == 1
    assert _statements_on(statements, "users")


@pytest.mark.parametrize("viewer", ["user2", "invoice_reader", "lead_seller"])
async def test_an_error_in_the_executors_non_null_root_nulls_data(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    # `users` needs UM, which these viewers lack: its FORBIDDEN on a non-null root
    # makes `data` null, as the executor alone answers; the compiled roots are dropped.
    query = """{ leadTags { name } companies(first: 2) { edges { node { name } } }
      users { totalCount } invoices(first: 1) { totalCount } }"""
    interpreted, compiled = await _both(paths, query, world[viewer])
    body = compiled.json()
    assert body["data"] is None
    # One error: the first refused root (others too for some viewers) ends the operation.
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    _same(interpreted, compiled)


@pytest.mark.parametrize(
    ("declining", "variables", "code"),
    [
        ("companies(after: $after) { totalCount }", {"after": "bogus"}, "BAD_USER_INPUT"),
        ("companies(first: $n) { totalCount }", {"n": 1000}, "BAD_USER_INPUT"),
        ("company(id: $id) { name }", {"id": "999999"}, "NOT_FOUND"),
        ("company(id: $id) { name }", {"id": "x"}, "NOT_FOUND"),
        ("contract(id: $id) { reference }", {"id": "999999"}, "NOT_FOUND"),
    ],
)
async def test_a_covered_root_that_declines_at_run_time_goes_to_the_executor(
    paths: Differential,
    world: dict[str, str],
    declining: str,
    variables: dict[str, Any],
    code: str,
) -> None:
    """Bad input or an unknown id in one root: the executor produces its error, with
    its path; the other roots were compiled (their statements ran)."""
    declared = ", ".join(
        f"${name}: {'ID!' if name == 'id' else 'Int' if name == 'n' else 'String'}"
        for name in variables
    )
    query = f"""query D({declared}) {{ leads(first: 2) {{ edges {{ node {{ fullName }} }} }}
      bad: {declining} contactsPage: contacts(first: 2) {{ edges {{ node {{ fullName }} }} }} }}"""
    answer, statements = await compiled_statements(paths, query, world["admin"], variables)
    errors = answer.body["errors"]
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [(["bad"], code)]
    # The other roots' compiled statements ran (a non-null root's error nulls data).
    assert answer.body["data"] is None
    assert len([s for s in statements if "crm_node" in s and '"leads"' in s]) == 1
    assert len([s for s in statements if "crm_node" in s and '"contacts"' in s]) == 1
    interpreted, compiled = await _both(paths, query, world["admin"], variables)
    _same(interpreted, compiled)


async def test_a_root_refused_to_the_viewer_is_the_executors_the_others_compiled(
    paths: Differential, world: dict[str, str]
) -> None:
    # lead_seller (LR, LW) may not list companies: the executor refuses that root;
    # leads and leadTags are compiled all the same (their statements ran).
    query = "{ leadTags { name } leads(first: 2) { totalCount } companies { totalCount } }"
    answer, statements = await compiled_statements(paths, query, world["lead_seller"])
    assert answer.body["data"] is None
    assert answer.body["errors"][0]["path"] == ["companies"]
    compiled = [s for s in statements if "crm_node" in s]
    assert len(compiled) == 2 and not _statements_on(statements, "companies")


async def test_mixed_operations_over_get_and_in_a_batch_answer_the_same(
    paths: Differential, world: dict[str, str]
) -> None:
    query = MIXED["leads_and_statistics"]
    headers = {"Authorization": f"Bearer {world['manager1']}", "X-Request-ID": "partial"}
    answers = []
    for client in (paths.interpreted, paths.compiled):
        get = await client.get("/graphql", params={"query": query}, headers=headers)
        batch = await client.post(
            "/graphql",
            json=[{"query": query}, {"query": MIXED["aliases_and_fragments"]}],
            headers=headers,
        )
        assert get.status_code == batch.status_code == 200
        answers.append((get, batch))
    (get_interpreted, batch_interpreted), (get_compiled, batch_compiled) = answers
    _same(get_interpreted, get_compiled)
    _same(batch_interpreted, batch_compiled)
    assert get_compiled.json()["data"]["leads"]["edges"]


async def test_the_lane_never_takes_a_mixed_operation(
    paths: Differential, world: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an operation answered whole by the compiled path is remembered for the lane:
    a mixed one runs through strawberry's view (and the executor) every time."""
    from crm_graphql.api import Schema

    executions = 0
    original = Schema.execute

    async def execute(schema: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal executions
        executions += 1
        return await original(schema, *args, **kwargs)

    monkeypatch.setattr(Schema, "execute", execute)
    mixed = MIXED["leads_and_statistics"]
    whole = "{ leads(first: 3) { totalCount edges { node { fullName } } } }"
    token = world["admin"]
    for query, runs in ((mixed, 3), (whole, 1)):
        before = executions
        first = None
        for _ in range(3):
            interpreted, compiled = await _both(paths, query, token)
            _same(interpreted, compiled)
            first = first or compiled.content
            assert compiled.content == first
        # The executor app runs each; the compiled app each mixed one, the whole one once.
        assert executions - before == 3 + runs, (query, executions - before)


async def test_a_mixed_query_over_the_websocket_is_encoded_as_over_http(
    tmp_path: Path,
) -> None:
    """graphql-transport-ws runs queries too: the compiled roots' values (JSON text from
    the database) are encoded into its messages as into an HTTP answer."""
    from tests.uvicorn_servers import Client, load_demo, server_env, serving
    from tests.ws_client import acked, next_message

    env = server_env(tmp_path)
    load_demo(env)
    query = MIXED["aliases_and_fragments"]
    with serving(env) as (base, _):
        client = await Client(base).login("admin")
        over_http = await client.gql(query)
        assert over_http["data"]["first"]["edges"], over_http
        ws = await acked(base, client.token)
        try:
            payload = {"query": query, "operationName": "Mixed"}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            message = await next_message(ws)
            assert message["type"] == "next", message
            assert message["payload"] == over_http
            assert (await next_message(ws))["type"] == "complete"
        finally:
            await ws.close()


async def test_the_view_parses_a_json_body_once_and_refuses_bad_json_as_before(
    paths: Differential, world: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lane parses a POST's JSON body; when it does not answer, the view takes that
    value rather than parsing the bytes again. A body that is not JSON, or not an
    object, is refused by the view as before, on both paths."""
    import orjson

    from crm_graphql import graphql_app

    parsed: list[bytes] = []

    class _Counting:
        JSONDecodeError = orjson.JSONDecodeError
        OPT_SORT_KEYS = orjson.OPT_SORT_KEYS
        dumps = staticmethod(orjson.dumps)

        @staticmethod
        def loads(data: Any) -> Any:
            parsed.append(data)
            return orjson.loads(data)

    monkeypatch.setattr(graphql_app, "orjson", _Counting)
    headers = {"Authorization": f"Bearer {world['admin']}", "X-Request-ID": "partial"}
    body = {"query": MIXED["leads_and_statistics"], "variables": {"unused": 1}}
    response = await paths.compiled.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200 and response.json()["data"]["leads"]
    assert len(parsed) == 1
    for sent in (b"{not json", b"[1, 2]", b'"text"', b"\xff"):
        answers = [
            await client.post(
                "/graphql",
                content=sent,
                headers={**headers, "Content-Type": "application/json"},
            )
            for client in (paths.interpreted, paths.compiled)
        ]
        assert answers[0].status_code == answers[1].status_code == 400, sent
        assert answers[0].content == answers[1].content
