"""Bad input and query limits over HTTP: malformed and oversized bodies, bad tokens,
depth/alias/token/cost limits, production hardening, GraphiQL assets, error masking,
and the health endpoints."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import Source, parse, validate
from graphql.language import Lexer, TokenKind
from starlette.applications import Starlette
from strawberry.extensions import query_depth_limiter
from tortoise import Tortoise

import crm_graphql.models.users
from crm_graphql.api import schema
from crm_graphql.app import create_app
from crm_graphql.extensions import QueryTooComplex, cost_limit_rule
from crm_graphql.models.auth import AuthToken, LoginAttempt
from crm_graphql.services.auth import hash_token
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_user

LIMITS = settings.limits
JSON = {"Content-Type": "application/json"}


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A non-GraphQL HTTP error: `status`, JSON body `{"errors": [{message, extensions}]}`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["errors"], body
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert isinstance(error["message"], str) and error["message"]
    assert error["extensions"]["code"] == code, body
    assert "Traceback" not in response.text
    return body


@pytest.fixture
async def admin(api: Api) -> Api:
    await make_user("boss", superadmin=True, password="boss-pass")
    api.tokens["boss"] = await api.login("boss", "boss-pass")
    return api


# ---------------------------------------------------------------------------------------
# Bad requests


async def test_malformed_json_body_is_400(client: httpx.AsyncClient) -> None:
    for content in (b'{"query": "{ __typename }"', b"not json", b"\xff\xfe", b"[1, 2", b""):
        response = await client.post("/graphql", content=content, headers=JSON)
        assert_json_error(response, 400, "BAD_REQUEST")


async def test_json_object_that_is_not_a_graphql_request_is_400(
    client: httpx.AsyncClient,
) -> None:
    for content in (
        b"{}",
        b'{"query": 5}',
        b'{"query": null}',
        b'{"query": "{ __typename }", "variables": "x"}',
        b'{"query": "{ __typename }", "extensions": 5}',
    ):
        response = await client.post("/graphql", content=content, headers=JSON)
        assert_json_error(response, 400, "BAD_REQUEST")


@pytest.fixture
async def lenient_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees the app's 500 responses instead of its exceptions."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize("content", [b"42", b'"{ __typename }"', b"null", b"[1]", b"true"])
async def test_json_that_is_not_an_object_is_400(
    lenient_client: httpx.AsyncClient, content: bytes
) -> None:
    response = await lenient_client.post("/graphql", content=content, headers=JSON)
    assert_json_error(response, 400, "BAD_REQUEST")


async def test_text_plain_body_is_a_client_error(client: httpx.AsyncClient) -> None:
    # With the header a cross-site request cannot send (without it: websecurity.py's 400)
    preflight = {"X-CRM-CSRF": "1"}
    response = await client.post(
        "/graphql",
        content=b"{ __typename }",
        headers={"Content-Type": "text/plain", **preflight},
    )
    body = assert_json_error(response, 400, "BAD_REQUEST")
    assert body["errors"][0]["message"] == "Unsupported content type"
    # without any content type at all
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=preflight
    )
    body = assert_json_error(response, 400, "BAD_REQUEST")
    assert body["errors"][0]["message"] == "Unsupported content type"


async def test_oversized_body_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    padding = "x" * (LIMITS.max_body_bytes + 1)
    content = ('{"query": "{ __typename }", "extensions": {"pad": "' + padding + '"}}').encode()
    response = await client.post("/graphql", content=content, headers=JSON)
    body = assert_json_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(LIMITS.max_body_bytes) in body["errors"][0]["message"]
    assert response.headers["x-request-id"]


async def test_oversized_streamed_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    chunk = b"x" * 65536
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "extensions": {"pad": "'
        while sent <= LIMITS.max_body_bytes:
            sent += len(chunk)
            yield chunk
        yield b'"}}'

    request = client.build_request("POST", "/graphql", content=stream(), headers=JSON)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await client.send(request)
    assert_json_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_just_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    head = b'{"query": "{ __typename }", "extensions": {"pad": "'
    tail = b'"}}'
    content = head + b"x" * (LIMITS.max_body_bytes - len(head) - len(tail)) + tail
    assert len(content) == LIMITS.max_body_bytes
    response = await client.post("/graphql", content=content, headers=JSON)
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_unknown_operation_name_is_not_a_server_error(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "query A { __typename } query B { __typename }", "operationName": "C"},
    )
    assert_json_error(response, 400, "BAD_REQUEST")
    assert response.json()["errors"][0]["message"] == 'Unknown operation named "C".'
    # and the right name picks its operation
    response = await api.client.post(
        "/graphql",
        json={"query": "query A { a: __typename } query B { b: __typename }", "operationName": "B"},
    )
    assert response.json() == {"data": {"b": "Query"}}


# ---------------------------------------------------------------------------------------
# Authentication header


async def test_bad_bearer_tokens_are_401(admin: Api) -> None:
    token = admin.tokens["boss"]
    # the genuine token works
    data = await admin.data("{ viewer { username } }", token=token)
    assert data == {"viewer": {"username": "boss"}}

    expired = await admin.login("boss", "boss-pass")
    await AuthToken.filter(token_hash=hash_token(expired)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    revoked = await admin.login("boss", "boss-pass")
    await AuthToken.filter(token_hash=hash_token(revoked)).update(revoked_at=datetime.now(UTC))

    for bad in (
        "crm_unknown-token",
        "garbage",
        token + "x",
        token[:-1],
        expired,
        revoked,
        "crm_" + "a" * 500,
    ):
        response = await admin.post("{ __typename }", token=bad)
        assert_json_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["x-request-id"]


async def test_non_bearer_authorization_is_401(admin: Api) -> None:
    token = admin.tokens["boss"]
    for header in (
        f"Basic {token}",
        "Basic Ym9zczpib3NzLXBhc3M=",
        token,
        "Bearer",
        "Bearer ",
        "Token " + token,
    ):
        response = await admin.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": header}
        )
        assert_json_error(response, 401, "UNAUTHENTICATED")
        assert "www-authenticate" in response.headers
    # the scheme is case-insensitive
    response = await admin.client.post(
        "/graphql",
        json={"query": "{ viewer { username } }"},
        headers={"Authorization": f"bearer {token}"},
    )
    assert response.json() == {"data": {"viewer": {"username": "boss"}}}


async def test_no_token_reaches_graphql_as_anonymous(api: Api) -> None:
    response = await api.post("{ users { totalCount } }")
    assert response.status_code == 200
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------------------------------
# Query limits


@asynccontextmanager
async def variant(api: Api, **limits: int) -> AsyncIterator[Api]:
    """An app with other limits, talking to the same database. Its lifespan is not
    entered: the session app's ORM serves it (and create_app's lifespan would tear that
    down on exit)."""
    config = dataclasses.replace(settings, limits=dataclasses.replace(LIMITS, **limits))
    other = create_app(config)
    transport = httpx.ASGITransport(app=other, client=("10.0.0.3", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://variant") as http:
        variant_api = Api(http)
        variant_api.tokens = dict(api.tokens)
        yield variant_api


SEVEN_DEEP = (
    "query Deep { users(first: 1) { edges { node { assignments(first: 1) { edges { node {"
    " profile { name } } } } } } } }"
)  # users, edges, node, assignments, edges, node, profile: 7 levels of selections


async def test_query_depth_limit(admin: Api) -> None:
    async with variant(admin, max_depth=7) as at_limit:
        body = await at_limit.gql(SEVEN_DEEP, as_user="boss")
        assert body == {"data": {"users": {"edges": [{"node": {"assignments": {"edges": []}}}]}}}
    async with variant(admin, max_depth=6) as under:
        body = await under.gql(SEVEN_DEEP, as_user="boss")
        assert body == {
            "data": None,
            "errors": [
                {
                    "message": "'Deep' exceeds maximum operation depth of 6",
                    "locations": [{"line": 1, "column": SEVEN_DEEP.index("name") + 1}],
                    "extensions": {"code": "QUERY_TOO_COMPLEX"},
                }
            ],
        }
        # hiding the depth in fragments does not help
        fragments = (
            "query Deep { users(first: 1) { ...U } } fragment U on UserConnection { edges {"
            " node { assignments(first: 1) { ...A } } } } fragment A on AssignmentConnection"
            " { edges { node { profile { name } } } }"
        )
        body = await under.gql(fragments, as_user="boss")
        assert [e["message"] for e in body["errors"]] == [
            "'Deep' exceeds maximum operation depth of 6"
        ]
    # the configured limit: a document deeper than it is refused before anything runs
    levels = LIMITS.max_depth + 1
    deep = "query Deep { " + "viewer { " * levels + "id" + " }" * levels + " }"
    body = await admin.gql(deep, as_user="boss")
    assert body["data"] is None
    messages = [e["message"] for e in body["errors"]]
    assert f"'Deep' exceeds maximum operation depth of {LIMITS.max_depth}" in messages


async def test_too_many_aliases(admin: Api) -> None:
    allowed = " ".join(f"a{i}: __typename" for i in range(LIMITS.max_aliases))
    assert (await admin.data("{ " + allowed + " }", as_user="boss"))["a0"] == "Query"
    too_many = " ".join(f"a{i}: __typename" for i in range(LIMITS.max_aliases + 1))
    body = await admin.gql("{ " + too_many + " }", as_user="boss")
    assert body.get("data") is None
    assert [e["message"] for e in body["errors"]] == [
        f"{LIMITS.max_aliases + 1} aliases found. Allowed: {LIMITS.max_aliases}"
    ]


def token_count(query: str) -> int:
    """Lexical tokens of a comment-free document, as the parser's limit counts them."""
    lexer = Lexer(Source(query))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def names_query(count: int) -> str:
    names = " ".join(f'"n{i}"' for i in range(count))
    return f"{{ users(filter: {{username: {{in: [{names}]}}}}) {{ totalCount }} }}"


async def test_too_many_tokens(admin: Api) -> None:
    # each string in the list is one token; 20 more make up the rest of the query
    # (with room for that many `in` values: the filter limit would refuse them first)
    async with variant(admin, max_filter_in_values=LIMITS.max_tokens) as roomy:
        query = names_query(LIMITS.max_tokens - 20)
        assert token_count(query) == LIMITS.max_tokens
        assert await roomy.data(query, as_user="boss") == {"users": {"totalCount": 0}}
        query = names_query(LIMITS.max_tokens - 19)
        body = await roomy.gql(query, as_user="boss")
        assert body["data"] is None
        assert [e["message"] for e in body["errors"]] == [
            f"Syntax Error: Document contains more than {LIMITS.max_tokens} tokens. "
            "Parsing aborted."
        ]
    # comments count too, so they cannot be used to stuff a document
    stuffed = "{ __typename\n" + "#\n" * LIMITS.max_tokens + "}"
    body = await admin.gql(stuffed, as_user="boss")
    assert "tokens" in body["errors"][0]["message"]


async def test_deeply_nested_document_is_refused_not_crashed(api: Api) -> None:
    # as deep as the token limit allows: every level is `a {` ... `}` (3 tokens)
    levels = LIMITS.max_tokens // 3 - 2
    query = "{ " + "viewer { " * levels + "id" + " }" * levels + " }"
    response = await api.post(query)
    assert response.status_code == 200
    assert [e["message"] for e in response.json()["errors"]] == [
        "Syntax Error: Document is nested too deeply. Parsing aborted."
    ]


def cost_of_nested(users: int, assignments: int) -> int:
    """What the cost rule charges for
    `users(first: U) { edges { node { assignments(first: A) { edges { node { profile
    { name } } } } } } }`: each field 1, a list field multiplies what is under it."""
    profile = 1 + 1  # profile + name
    a_node = 1 + profile
    a_edges = 1 + a_node
    a_list = 1 + assignments * a_edges
    u_node = 1 + a_list
    u_edges = 1 + u_node
    return 1 + users * u_edges


NESTED_COST_QUERY = (
    "users(first: {u}) {{ edges {{ node {{ assignments(first: {a}) "
    "{{ edges {{ node {{ profile {{ name }} }} }} }} }} }} }}"
)


def aliased_nested(copies: int, users: int, assignments: int) -> str:
    body = " ".join(
        f"q{i}: " + NESTED_COST_QUERY.format(u=users, a=assignments) for i in range(copies)
    )
    return "{ " + body + " }"


async def test_cost_limit(admin: Api) -> None:
    one = cost_of_nested(100, 50)
    copies = LIMITS.max_cost // one + 1
    assert copies <= LIMITS.max_aliases
    body = await admin.gql(aliased_nested(copies, 100, 50), as_user="boss")
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] == copies * one
    assert error["extensions"]["limit"] == LIMITS.max_cost
    assert "cost" in error["message"].lower()
    assert str(LIMITS.max_cost) in error["message"]


async def test_query_just_under_the_cost_limit_passes(admin: Api) -> None:
    one = cost_of_nested(100, 50)
    copies = LIMITS.max_cost // one
    assert copies >= 1
    query = aliased_nested(copies, 100, 50)
    body = await admin.gql(query, as_user="boss")
    assert "errors" not in body, body
    assert body["data"]["q0"] == {"edges": [{"node": {"assignments": {"edges": []}}}]}
    # the boundary itself: a cost equal to the limit passes, one over it does not
    cost = copies * one
    async with variant(admin, max_cost=cost) as at_limit:
        assert "errors" not in await at_limit.gql(query, as_user="boss")
    async with variant(admin, max_cost=cost - 1) as below:
        body = await below.gql(query, as_user="boss")
        assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
        assert body["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": cost,
            "limit": cost - 1,
        }


async def test_variable_page_size_is_priced_at_the_cap(admin: Api) -> None:
    # `users(first: $n)` costs as much as `users(first: <page_size_max>)`, whatever $n is
    shape = NESTED_COST_QUERY.format(u="$n", a=50)
    one = cost_of_nested(LIMITS.page_size_max, 50)
    copies = LIMITS.max_cost // one + 1
    query = "query($n: Int) { " + " ".join(f"q{i}: {shape}" for i in range(copies)) + " }"
    body = await admin.gql(query, {"n": 1}, as_user="boss")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body["errors"][0]["extensions"]["cost"] == copies * one
    # the same query with the page size written in is cheap
    literal = query.replace("query($n: Int)", "query").replace("$n", "1")
    assert "errors" not in await admin.gql(literal, as_user="boss")


def rule_cost(query: str, **limits: int) -> int:
    """The cost the rule finds for `query`, read from its error with a limit of 1."""
    rule = cost_limit_rule(
        1, LIMITS.page_size_default, LIMITS.page_size_max, max_selections=10**6, **limits
    )
    with pytest.raises(QueryTooComplex) as raised:
        validate(schema._schema, parse(query), [rule])
    assert raised.value.extensions is not None
    return raised.value.extensions["cost"]


def test_cost_rule_prices_nested_lists_with_the_nested_limits() -> None:
    nested_limits = {
        "nested_default_page": LIMITS.nested_page_size_default,
        "nested_max_page": LIMITS.nested_page_size_max,
    }
    shape = "users(first: {u}) {{ edges {{ node {{ assignments{a} {{ totalCount }} }} }} }}"

    def cost(users: int, per_user: int) -> int:
        return 1 + users * (1 + (1 + (1 + per_user * 1)))

    literal = "{ " + shape.format(u=5, a="(first: 3)") + " }"
    assert rule_cost(literal, **nested_limits) == cost(5, 3)
    omitted = "{ " + shape.format(u=5, a="") + " }"
    assert rule_cost(omitted, **nested_limits) == cost(5, LIMITS.nested_page_size_default)
    variable = "query($n: Int) { " + shape.format(u=5, a="(first: $n)") + " }"
    assert rule_cost(variable, **nested_limits) == cost(5, LIMITS.nested_page_size_max)
    root_variable = "query($n: Int) { " + shape.format(u="$n", a="(first: 3)") + " }"
    assert rule_cost(root_variable, **nested_limits) == cost(LIMITS.page_size_max, 3)
    # through a fragment on the root type, a root field is still a root field
    fragment = (
        "query($n: Int) { ...Root } fragment Root on Query { "
        + shape.format(u="$n", a="(first: $n)")
        + " }"
    )
    assert rule_cost(fragment, **nested_limits) == cost(
        LIMITS.page_size_max, LIMITS.nested_page_size_max
    )
    # without nested limits, nested lists are priced with the root ones
    assert rule_cost(variable) == cost(5, LIMITS.page_size_max)
    assert rule_cost(omitted) == cost(5, LIMITS.page_size_default)


def fragment_bomb(levels: int) -> str:
    """A short document whose fragments each spread the next one twice: 2**levels
    selections once expanded."""
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query Bomb {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


def test_cost_rule_prices_each_fragment_once() -> None:
    # 2**200 selections: priced in linear time, refused for its size
    rule = cost_limit_rule(LIMITS.max_cost, LIMITS.page_size_default, LIMITS.page_size_max)
    with pytest.raises(QueryTooComplex) as raised:
        validate(schema._schema, parse(fragment_bomb(200)), [rule])
    assert raised.value.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": LIMITS.max_cost}
    assert "selections" in raised.value.message
    # empty fragments and unknown fields count as selections too
    empty = (
        "query { ...E0 } "
        + " ".join(f"fragment E{i} on Query {{ ...E{i + 1} ...E{i + 1} }}" for i in range(30))
        + " fragment E30 on Query { }"
    )
    with pytest.raises(QueryTooComplex):
        validate(schema._schema, parse(empty), [rule])
    unknown = (
        "query { ...U0 } "
        + " ".join(
            f"fragment U{i} on Query {{ nope {{ ...U{i + 1} ...U{i + 1} }} }}" for i in range(30)
        )
        + " fragment U30 on Query { __typename }"
    )
    with pytest.raises(QueryTooComplex):
        validate(schema._schema, parse(unknown), [rule])
    # a small fragment tree is fine, and its cost is what it expands to
    assert rule_cost(fragment_bomb(4)) == 2**4


async def test_fragment_bomb_is_refused_before_the_depth_limiter_walks_it(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = query_depth_limiter.determine_depth

    def counting(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(query_depth_limiter, "determine_depth", counting)
    # 2**17 selections: still quick to walk, but past the limit
    body = await admin.gql(fragment_bomb(17), as_user="boss")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert calls == 0


# ---------------------------------------------------------------------------------------
# Production mode


@pytest.fixture
async def production(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    config = dataclasses.replace(
        settings,
        mode="production",
        introspection=False,
        graphiql=False,
        allow_get_queries=False,
    )
    prod = create_app(config)
    # The session app owns the ORM; this one's lifespan shares it and leaves it open.
    async with prod.router.lifespan_context(prod):
        transport = httpx.ASGITransport(app=prod, client=("10.0.0.2", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://prod") as http:
            yield http


async def test_production_refuses_introspection(production: httpx.AsyncClient) -> None:
    for query in (
        "{ __schema { types { name } } }",
        '{ __type(name: "Query") { name } }',
        "query { ...F } fragment F on Query { __schema { queryType { name } } }",
    ):
        response = await production.post("/graphql", json={"query": query})
        assert response.status_code == 200
        body = response.json()
        assert body.get("data") is None, body
        assert "introspection" in body["errors"][0]["message"].lower(), body
    # __typename is not introspection
    response = await production.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_production_gives_no_field_suggestions(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": "{ viewr { username } }"})
    body = response.json()
    assert body["errors"], body
    assert "viewr" in body["errors"][0]["message"]
    assert "Did you mean" not in response.text
    # nor for arguments or enum values
    response = await production.post(
        "/graphql",
        json={"query": "{ users(fist: 1, orderBy: [{field: USERNAM}]) { totalCount } }"},
    )
    messages = [e["message"] for e in response.json()["errors"]]
    assert messages == [
        "Unknown argument 'fist' on field 'Query.users'.",
        "Value 'USERNAM' does not exist in 'UserOrderField' enum.",
    ]
    assert "Did you mean" not in response.text
    # nor when a variable's value is coerced
    response = await production.post(
        "/graphql",
        json={
            "query": "query($o: [UserOrder!]) { users(orderBy: $o) { totalCount } }",
            "variables": {"o": [{"field": "USERNAM"}]},
        },
    )
    assert response.json()["errors"], response.text
    assert "USERNAM" in response.text
    assert "Did you mean" not in response.text


async def test_production_refuses_get_queries_and_graphiql(
    production: httpx.AsyncClient,
) -> None:
    response = await production.get("/graphql", params={"query": "{ __typename }"})
    body = assert_json_error(response, 400, "BAD_REQUEST")
    assert body["errors"][0]["message"] == "queries are not allowed when using GET"
    response = await production.get("/graphql", headers={"Accept": "text/html"})
    body = assert_json_error(response, 404, "NOT_FOUND")
    # A person who opens the URL learns why there is no page, and what to do instead.
    message = body["errors"][0]["message"]
    assert "GraphiQL is turned off" in message and "CRM_MODE=production" in message
    assert "POST" in message
    # POST still works
    response = await production.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_the_root_points_to_the_graphql_endpoint(
    client: httpx.AsyncClient, production: httpx.AsyncClient
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"graphql": "/graphql", "graphiql": "/graphql", "health": "/healthz"}
    page = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/graphql"' in page.text
    # Production: the endpoint, and no GraphiQL to point to.
    response = await production.get("/")
    assert response.json()["graphql"] == "/graphql" and response.json()["graphiql"] is None
    page = await production.get("/", headers={"Accept": "text/html"})
    assert "GraphiQL is turned off" in page.text


async def test_development_suggests_fields_and_allows_get(api: Api) -> None:
    body = await api.gql("{ viewr { username } }")
    assert "Did you mean 'viewer'" in body["errors"][0]["message"]
    response = await api.client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    # introspection works in development
    data = await api.data("{ __schema { queryType { name } } }")
    assert data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_get_cannot_run_mutations(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": 'mutation { login(username: "x", password: "y") { token } }'},
    )
    body = assert_json_error(response, 400, "BAD_REQUEST")
    assert body["errors"][0]["message"] == "mutations are not allowed when using GET"
    assert await LoginAttempt.all().count() == 0


async def test_graphiql_is_served_from_local_assets(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<html" in html
    sources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    links = re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", html)
    assert sources and links
    referenced = [u for u in sources + links if not u.startswith("data:")]
    assert any(u.endswith(".js") for u in referenced)
    assert any(u.endswith(".css") for u in referenced)
    for url in referenced:
        assert url.startswith("/static/graphiql/"), url
    assert not re.search(r"<(script|link)[^>]*(src|href)=\"(https?:)?//", html)
    for url in referenced:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    missing = await client.get("/static/graphiql/nope.js")
    assert missing.status_code == 404
    escape = await client.get("/static/graphiql/../../settings.py")
    assert escape.status_code == 404


# ---------------------------------------------------------------------------------------
# Error masking


async def test_unexpected_errors_are_masked(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(crm_graphql.models.users.Profile, "all", broken)
    response = await admin.post("{ profiles { name } }", as_user="boss")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["profiles"]
    request_id = response.headers["x-request-id"]
    assert request_id
    assert error["extensions"]["requestId"] == request_id
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text

    # a request id the client sends is echoed and quoted
    response = await admin.post(
        "{ profiles { name } }", as_user="boss", headers={"X-Request-ID": "client-abc.1"}
    )
    assert response.headers["x-request-id"] == "client-abc.1"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "client-abc.1"
    # an unsafe one is replaced
    response = await admin.post(
        "{ profiles { name } }", as_user="boss", headers={"X-Request-ID": "bad id!"}
    )
    replaced = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert response.json()["errors"][0]["extensions"]["requestId"] == replaced


async def test_masking_in_a_larger_query_spares_client_errors(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(crm_graphql.models.users.Profile, "all", broken)
    response = await admin.post(
        "{ viewer { username } groups { name } profiles { name } }", as_user="boss"
    )
    body = response.json()
    # `profiles` is non-null, so its error nulls the whole data
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "secret detail" not in response.text
    # client errors are not masked
    response = await admin.post("{ users(first: -1) { totalCount } }", as_user="boss")
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        (
            "query($n: Int) { users(first: $n) { totalCount } }",
            {"n": "x"},
            "Variable '$n' has invalid value: Int cannot represent non-integer value: 'x'",
        ),
        (
            "query($o: [UserOrder!]) { users(orderBy: $o) { totalCount } }",
            {"o": [{"field": "USERNAM"}]},
            "Variable '$o' has invalid value at [0].field: Value 'USERNAM' does not exist in "
            "'UserOrderField' enum. Did you mean the enum value 'USERNAME'?",
        ),
        (
            "query($f: UserFilter) { users(filter: $f) { totalCount } }",
            {"f": {"createdAt": {"gt": "yesterday"}}},
            "Variable '$f' has invalid value at .createdAt.gt: Value cannot represent a "
            "DateTime: \"yesterday\". Expected 4 digits, got 'yest'",
        ),
    ],
)
async def test_bad_variables_are_reported_not_masked(
    admin: Api, query: str, variables: dict[str, Any], expected: str
) -> None:
    body = await admin.gql(query, variables, as_user="boss")
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [expected]
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body)


# ---------------------------------------------------------------------------------------
# Health


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "reachable")
    assert body["renderer"]["queue"] == "running"  # reported beside, see test_pdf_queue

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database is down")

    connection = Tortoise.get_connection("default")
    monkeypatch.setattr(type(connection), "execute_query", down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "unreachable")
    assert "database is down" not in response.text


async def test_unknown_paths_are_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert_json_error(response, 404, "NOT_FOUND")


async def test_several_operations_need_an_operation_name(client: httpx.AsyncClient) -> None:
    document = "query A { __typename } query B { __typename }"
    response = await client.post("/graphql", json={"query": document})
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in body["errors"][0]["message"]
    chosen = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert chosen.json() == {"data": {"__typename": "Query"}}


async def test_other_methods_get_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
