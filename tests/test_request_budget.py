"""One request, one budget (issue 11): a batch's operations share one cost limit and
run one after another; documents are bounded in selections, directives and repeated
fields; a response lists a bounded number of errors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from crm_graphql.app import create_app
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_user

LIMITS = settings.limits


@pytest.fixture
async def admin(api: Api) -> Api:
    await make_user("boss", superadmin=True, password="boss-pass")
    api.tokens["boss"] = await api.login("boss", "boss-pass")
    return api


@asynccontextmanager
async def variant(api: Api, **limits: int) -> AsyncIterator[Api]:
    """An app with other limits on the same database (the session app owns the ORM)."""
    config = dataclasses.replace(settings, limits=dataclasses.replace(LIMITS, **limits))
    other = create_app(config)
    transport = httpx.ASGITransport(app=other, client=("10.0.0.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://variant") as http:
        variant_api = Api(http)
        variant_api.tokens = dict(api.tokens)
        yield variant_api


async def post_batch(api: Api, batch: list[dict[str, Any]]) -> httpx.Response:
    return await api.client.post(
        "/graphql", json=batch, headers={"Authorization": f"Bearer {api.tokens['boss']}"}
    )


# users(first: 100) { edges { node { id } } }: 1 + 100 * (1 + (1 + 1)) = 301
PAGE = "{ users(first: 100) { edges { node { id } } } }"
PAGE_COST = 301


async def test_batch_of_more_than_five_operations_is_refused(admin: Api) -> None:
    assert LIMITS.max_batch_operations == 5
    ok = await post_batch(admin, [{"query": "{ __typename }"}] * 5)
    assert ok.status_code == 200
    assert [item["data"] for item in ok.json()] == [{"__typename": "Query"}] * 5
    refused = await post_batch(admin, [{"query": "{ __typename }"}] * 6)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_batch_shares_one_cost_budget(admin: Api) -> None:
    batch = [{"query": PAGE}] * 3
    async with variant(admin, max_cost=3 * PAGE_COST) as at_limit:
        response = await post_batch(at_limit, batch)
        assert [error_codes(item) for item in response.json()] == [[], [], []]
    async with variant(admin, max_cost=3 * PAGE_COST - 1) as below:
        # each operation alone is well under the limit...
        assert "errors" not in await below.gql(PAGE, as_user="boss")
        # ...but together they are not: the whole batch is refused, nothing runs
        response = await post_batch(below, batch)
        assert response.status_code == 200
        body = response.json()
        assert [error_codes(item) for item in body] == [["QUERY_TOO_COMPLEX"]] * 3
        assert all(item["data"] is None for item in body)
        assert body[0]["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": 3 * PAGE_COST,
            "limit": 3 * PAGE_COST - 1,
        }
        assert "batch" in body[0]["errors"][0]["message"]


async def test_a_batch_prices_filters_sent_as_variables(admin: Api) -> None:
    query = "query($f: UserFilter) { users(filter: $f) { totalCount } }"
    flt = {"or": [{"username": {"eq": f"u{i}"}} for i in range(10)]}
    one = 2 + 10 * LIMITS.filter_condition_cost
    batch = [{"query": query, "variables": {"f": flt}}] * 2
    async with variant(admin, max_cost=2 * one - 1) as below:
        assert "errors" not in await below.gql(query, {"f": flt}, as_user="boss")
        response = await post_batch(below, batch)
        assert [error_codes(item) for item in response.json()] == [["QUERY_TOO_COMPLEX"]] * 2


async def test_batch_operations_run_one_after_another(
    admin: Api, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = app.state.schema
    original = schema.execute
    running = 0
    most = 0

    async def tracked(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.01)
            return await original(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(schema, "execute", tracked)
    response = await post_batch(admin, [{"query": "{ viewer { username } }"}] * 5)
    assert [item["data"] for item in response.json()] == [{"viewer": {"username": "boss"}}] * 5
    assert most == 1


# ---------------------------------------------------------------------------------------
# Document size


async def test_selections_are_limited(admin: Api) -> None:
    query = "{ viewer { id username realName email } }"  # 5 selections
    async with variant(admin, max_selections=5) as at_limit:
        assert "errors" not in await at_limit.gql(query, as_user="boss")
    async with variant(admin, max_selections=4) as below:
        body = await below.gql(query, as_user="boss")
        assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
        assert "selections" in body["errors"][0]["message"]
    assert LIMITS.max_selections == 1_000


async def test_repeated_typename_is_refused(admin: Api) -> None:
    body = await admin.gql("{ " + "__typename " * 500 + "}", as_user="boss")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert "__typename" in body["errors"][0]["message"]
    # the same through inline fragments or repeated spreads
    inline = "{ " + "... on Query { __typename } " * 500 + "}"
    assert error_codes(await admin.gql(inline, as_user="boss")) == ["QUERY_TOO_COMPLEX"]
    spreads = "{ " + "...F " * 500 + "} fragment F on Query { __typename }"
    assert error_codes(await admin.gql(spreads, as_user="boss")) == ["QUERY_TOO_COMPLEX"]
    # a few repeats (overlapping fragments do that) are fine
    repeated = "{ " + "__typename " * LIMITS.max_repeated_selections + "}"
    assert await admin.data(repeated, as_user="boss") == {"__typename": "Query"}


async def test_directives_are_limited(admin: Api) -> None:
    unknown = "{ __typename " + " ".join(f"@d{i}" for i in range(50)) + " }"
    body = await admin.gql(unknown, as_user="boss")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body  # one error, not 50
    assert "directives" in body["errors"][0]["message"]
    fine = (
        "{ "
        + " ".join(f"a{i}: __typename @include(if: true)" for i in range(LIMITS.max_directives))
        + " }"
    )
    assert "errors" not in await admin.gql(fine, as_user="boss")


async def test_at_most_twenty_errors_per_response(admin: Api) -> None:
    query = "{ " + " ".join(f"nope{i}" for i in range(25)) + " }"
    body = await admin.gql(query, as_user="boss")
    errors = body["errors"]
    assert len(errors) == LIMITS.max_errors == 20
    assert all(e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" for e in errors)
    assert "nope19" in errors[-1]["message"]
    assert "5 more errors" in errors[-1]["message"]
    assert errors[-1]["extensions"]["omittedErrors"] == 5
    # twenty are listed as they are
    query = "{ " + " ".join(f"nope{i}" for i in range(20)) + " }"
    body = await admin.gql(query, as_user="boss")
    assert len(body["errors"]) == 20
    assert "more errors" not in body["errors"][-1]["message"]
