"""The corpus (tests/corpus/*.graphql) through both read paths for every viewer, the
comparator's own checks, and the suite's hook (CRM_DIFFERENTIAL=1)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_graphql.app import create_app
from tests.differential import (
    VIEWERS,
    Answer,
    CorpusCase,
    Differential,
    Mismatch,
    compare,
    end_cursor,
    load_corpus,
    path_settings,
)
from tests.factories import Api

CASES = load_corpus()
# Corpus files about refusals; every other one must answer the superadmin without errors.
REFUSALS = {
    "refused",
    "masked_and_forbidden",
    "single_objects",
    "single_company",
    "single_contract",
    "single_invoice",
    "single_contact",
    "single_template",
    "lead_saved_searches",
    "duplicates",
    "mixed_roots",
}


def test_the_corpus_covers_the_issue() -> None:
    names = {case.name for case in CASES}
    assert {"dashboard", "leads", "invoices", "contracts", "contacts", "refused"} <= names
    assert sum(len(case.variables) for case in CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_the_corpus_answers_the_same_on_both_paths(
    case: CorpusCase, paths: Differential, world: dict[str, str]
) -> None:
    pages_followed = 0
    for variables in case.variables:
        for viewer in VIEWERS:
            what = f"{case.name} as {viewer} with {json.dumps(variables)}"
            answer = await paths.check(case.query, variables, world[viewer], what)
            assert "GRAPHQL_VALIDATION_FAILED" not in json.dumps(answer.body), (what, answer)
            if viewer == "admin" and case.name not in REFUSALS:
                assert "errors" not in answer.body, (what, answer.body)
            # Pages after the first, through the cursors the first one gave
            after = end_cursor(answer.body) if "$after" in case.query else None
            for page in range(3):
                if after is None:
                    break
                more = {**(variables or {}), "after": after}
                answer = await paths.check(case.query, more, world[viewer], f"{what} page {page}")
                pages_followed += 1
                after = end_cursor(answer.body)
    if "$after" in case.query and "endCursor" in case.query:
        assert pages_followed > 0, "no case of this file had a second page"


async def test_the_corpus_reads_data_not_only_errors(
    paths: Differential, world: dict[str, str]
) -> None:
    # A corpus that only produced errors would prove little.
    dashboard = next(case for case in CASES if case.name == "dashboard")
    answer = await paths.check(dashboard.query, {"first": 20}, world["admin"])
    edges = answer.body["data"]["companies"]["edges"]
    assert len(edges) == 15
    contracts = [c for e in edges for c in e["node"]["contracts"]["edges"]]
    invoices = [i for c in contracts for i in c["node"]["relatedInvoices"]["edges"]]
    assert len(contracts) >= 10 and len(invoices) >= 10
    leads = next(case for case in CASES if case.name == "leads")
    finished = {"filter": {"showFinished": True}}
    seller = await paths.check(leads.query, finished, world["lead_seller"])
    assert seller.body["data"]["leads"]["totalCount"] > 0
    for viewer in ("user1", "manager1", "standalone", "invoice_reader"):
        seen = await paths.check(dashboard.query, {"first": 20}, world[viewer])
        assert seen.body["data"] is not None, (viewer, seen.body)
        assert 0 < seen.body["data"]["companies"]["totalCount"] < 15, viewer


# The comparator can fail


def _answer(**data: Any) -> Answer:
    return Answer(200, {"data": data})


@pytest.mark.parametrize(
    "changed",
    [
        _answer(companies={"totalCount": 4, "edges": [{"id": "1"}, {"id": "2"}]}),
        _answer(companies={"totalCount": 3, "edges": [{"id": "2"}, {"id": "1"}]}),
        _answer(companies={"totalCount": 3, "edges": [{"id": "1"}]}),
        _answer(companies={"edges": [{"id": "1"}, {"id": "2"}], "totalCount": 3}),
        _answer(companies={"totalCount": 3, "edges": [{"id": 1}, {"id": "2"}]}),
        _answer(companies={"totalCount": 3, "edges": [{"id": "1"}, {"id": "2"}], "x": None}),
        Answer(500, _answer(companies={"totalCount": 3, "edges": [{"id": "1"}, {"id": "2"}]}).body),
        Answer(
            200,
            {
                "data": {"companies": {"totalCount": 3, "edges": [{"id": "1"}, {"id": "2"}]}},
                "errors": [{"message": "x", "extensions": {"code": "FORBIDDEN"}}],
            },
        ),
    ],
    ids=["value", "order", "length", "key order", "type", "extra key", "status", "errors"],
)
def test_the_comparator_catches_a_difference(changed: Answer) -> None:
    original = _answer(companies={"totalCount": 3, "edges": [{"id": "1"}, {"id": "2"}]})
    compare(original, original)
    with pytest.raises(Mismatch):
        compare(original, changed)


def _with_errors(*paths: list[Any]) -> Answer:
    errors = [
        {"message": "No.", "path": path, "extensions": {"code": "FORBIDDEN"}} for path in paths
    ]
    return Answer(200, {"data": {"companies": None}, "errors": errors})


def test_the_same_errors_in_another_order_are_the_same_answer() -> None:
    # The executor lists errors as concurrent resolvers finish: no fixed order.
    first, second = ["companies", "edges", 2, "node"], ["companies", "edges", 12, "node"]
    compare(_with_errors(first, second), _with_errors(second, first))
    with pytest.raises(Mismatch):
        compare(_with_errors(first, second), _with_errors(first, first))


class _Altered:
    """An app whose GraphQL answers come back with one total off by one: a stand-in for
    a compiled path with a bug."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = json.loads(b"".join(chunks))
                    companies = (body.get("data") or {}).get("companies")
                    if companies and "totalCount" in companies:
                        companies["totalCount"] += 1
                    raw = json.dumps(body).encode()
                    headers = [
                        (k, str(len(raw)).encode() if k == b"content-length" else v)
                        for k, v in start["headers"]
                    ]
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": raw})

        await self.app(scope, receive, capture)


async def test_the_harness_catches_a_path_that_answers_differently(
    paths: Differential, world: dict[str, str]
) -> None:
    broken_app = _Altered(create_app(path_settings(True)))
    transport = httpx.ASGITransport(app=broken_app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://compiled") as broken:
        harness = Differential(broken, paths.interpreted)
        query = "{ companies { totalCount } }"
        with pytest.raises(Mismatch, match="totalCount"):
            await harness.check(query, None, world["admin"])
        # The same harness with a faithful app passes
        await paths.check(query, None, world["admin"])


async def test_the_suite_hook_compares_reads_and_leaves_mutations_alone(
    paths: Differential, world: dict[str, str]
) -> None:
    api = Api(paths.compiled, paths)
    api.tokens = world
    await api.data("{ companies { totalCount } }", as_user="user1")
    await api.data("query Named { viewer { username } }", as_user="user2")
    assert paths.compared == 2
    await api.gql("mutation { logout { ok } }", as_user="manager1")
    assert paths.compared == 2
    # a failing read is compared too
    await api.gql("{ users { totalCount } }", as_user="user2")
    assert paths.compared == 3


async def test_the_suite_hook_fails_on_a_difference(
    paths: Differential, world: dict[str, str]
) -> None:
    broken_app = _Altered(create_app(path_settings(False)))
    transport = httpx.ASGITransport(app=broken_app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://interpreted") as broken:
        api = Api(paths.compiled, Differential(paths.compiled, broken))
        api.tokens = world
        with pytest.raises(Mismatch):
            await api.data("{ companies { totalCount } }", as_user="admin")
