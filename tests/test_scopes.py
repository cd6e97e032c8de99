"""Scopes are exact: a web-form token (LEADS_CREATE) calls `leadCreate` and nothing else,
whichever root field or HTTP path it tries. Root fields come from introspection and
paths from the app's routes, so new ones are covered without editing this file."""

from __future__ import annotations

import re
from typing import Any

from graphql import parse, validate
from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute

from crm_graphql.api import schema
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.auth import AuthToken
from crm_graphql.models.leads import Lead
from tests.auth_api import api_token
from tests.factories import Api, error_codes
from tests.leads_api import WEBFORM_CREATE

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"
FIELDS = f"fields {{ name type {{ {TYPE_REF} }} args {{ name type {{ {TYPE_REF} }} }} }}"
ROOTS = f"{{ __schema {{ queryType {{ {FIELDS} }} mutationType {{ {FIELDS} }} }} }}"


def _type_name(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return _type_name(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + _type_name(ref["ofType"]) + "]"
    return ref["name"]


def _is_leaf(ref: dict[str, Any]) -> bool:
    while ref["kind"] in ("NON_NULL", "LIST"):
        ref = ref["ofType"]
    return ref["kind"] in ("SCALAR", "ENUM")


def _operation(kind: str, field: dict[str, Any]) -> str:
    """A valid operation calling `field`, every argument a variable of its own type (the
    variables are not sent: only a gate that refuses before execution answers FORBIDDEN)."""
    args = field["args"]
    declared = ", ".join(f"$a{i}: {_type_name(a['type'])}" for i, a in enumerate(args))
    passed = ", ".join(f"{a['name']}: $a{i}" for i, a in enumerate(args))
    head = f"{kind}({declared})" if args else kind
    call = f"{field['name']}({passed})" if args else field["name"]
    return f"{head} {{ {call}{'' if _is_leaf(field['type']) else ' { __typename }'} }}"


async def _every_root_operation(demo: Api) -> list[tuple[str, str]]:
    """One operation per root field of the schema, read by introspection as admin."""
    roots = (await demo.data(ROOTS, as_user="admin"))["__schema"]
    return [
        (field["name"], _operation(kind, field))
        for kind, root in (("query", "queryType"), ("mutation", "mutationType"))
        for field in roots[root]["fields"]
    ]


async def test_a_web_form_token_reaches_lead_create_and_no_other_root_field(demo: Api) -> None:
    token = await api_token(demo, "user1", "LEADS_CREATE")
    operations = await _every_root_operation(demo)
    assert len(operations) > 100 and ("leadCreate" in dict(operations))
    answers: dict[str, list[str]] = {}
    for name, document in operations:
        # The document is valid: without the gate it would fail later, not as FORBIDDEN
        assert validate(schema._schema, parse(document)) == [], document
        response = await demo.post(document, token=token)
        assert response.status_code == 200, (document, response.text)
        body = response.json()
        assert body.get("data") is None, (document, body)
        answers[name] = error_codes(body)
    allowed = {name for name, codes in answers.items() if codes != ["FORBIDDEN"]}
    assert allowed == {"leadCreate"}, allowed
    assert set(answers["leadCreate"]) == {"BAD_USER_INPUT"}  # its variables were not sent
    # Introspection, __typename and fields reached through fragments are root fields too
    for document in (
        "{ __typename }",
        "{ __schema { queryType { name } } }",
        "mutation { ...F } fragment F on Mutation { logout { ok } }",
        "mutation { ... on Mutation { logout { ok } } }",
        'mutation { leadCreate(input: {fullName: "x", email: "x@x.example"}) { leadId } '
        "logout { ok } }",
        "query A { viewer { id } } mutation B { logout { ok } }",
    ):
        body = await demo.gql(document, token=token)
        assert error_codes(body) == ["FORBIDDEN"] and body.get("data") is None, (document, body)
    assert await Lead.all().count() == 0
    # Every refusal is audited
    assert await AuditEntry.filter(action="DENIED", username="user1").count() >= len(operations)
    # Nothing above revoked the token: the web form still creates leads
    assert await AuthToken.filter(revoked_at__isnull=False).count() == 0
    created = await demo.data(
        WEBFORM_CREATE, {"input": {"fullName": "Ann", "email": "ann@acme.example"}}, token=token
    )
    assert created["leadCreate"]["errors"] == [] and created["leadCreate"]["leadId"]


async def test_logout_does_not_revoke_a_web_form_token(demo: Api) -> None:
    """Issue 11.2: `logout` with the public token of a web form switched intake off."""
    token = await api_token(demo, "user1", "LEADS_CREATE")
    body = await demo.gql("mutation { logout { ok } }", token=token)
    assert error_codes(body) == ["FORBIDDEN"]
    created = await demo.data(
        WEBFORM_CREATE, {"input": {"fullName": "Ann", "email": "ann@acme.example"}}, token=token
    )
    assert created["leadCreate"]["errors"] == []
    # A session still logs out
    session = demo.tokens["user2"]
    assert (await demo.data("mutation { logout { ok } }", token=session))["logout"]["ok"]


def _paths(app: Starlette) -> list[tuple[str, str]]:
    """(method, concrete path) for every route of the app, path parameters filled in."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/graphiql.min.js"))
        elif isinstance(route, WebSocketRoute):
            # Subscriptions authenticate in connection_init, with a FULL token only
            # (tests/test_events_subscriptions.py).
            continue
        else:
            raise AssertionError(f"a route kind this test does not know: {route!r}")
    return found


async def test_a_web_form_token_reaches_no_other_http_path(demo: Api, app: Starlette) -> None:
    token = await api_token(demo, "user1", "LEADS_CREATE")
    bearer = {"Authorization": f"Bearer {token}"}
    paths = _paths(app)
    assert ("GET", "/files/1") in paths and ("POST", "/include/api.php") in paths
    reached = []
    for method, path in paths:
        response = await demo.client.request(method, path, headers=bearer)
        if response.status_code != 403:
            reached.append((method, path, response.status_code))
        else:
            assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # /graphql answers (and refuses every field but leadCreate); api.php creates leads
    assert sorted(p for _, p, _ in reached) == sorted(
        ["/graphql", "/graphql", "/include/api.php", "/include/api.php"]
    ), reached
    # The token is not a calendar feed's secret either
    feed = await demo.client.get(f"/calendar/{token}.ics")
    assert feed.status_code == 404
    # A full token still reaches its paths, and anyone the public ones
    full = {"Authorization": f"Bearer {await api_token(demo, 'user1')}"}
    assert (await demo.client.get("/export/leads.csv", headers=full)).status_code == 200
    assert (await demo.client.get("/healthz")).status_code == 200


async def test_a_full_token_in_the_api_php_url_is_refused(demo: Api) -> None:
    """A token in a URL is logged on the way: only the web form's may travel there."""
    full = await api_token(demo, "user1")
    params = {"op": "create_lead", "params": "Ann,Acme,ann@acme.example", "pass": full}
    response = await demo.client.get("/include/api.php", params=params)
    assert (response.status_code, response.text) == (403, "0")
    assert "must not be sent in the URL" in response.headers["x-crm-error"]
    # Also when the body carries another token: the one in the URL is checked
    web = await api_token(demo, "user1", "LEADS_CREATE")
    response = await demo.client.post(
        "/include/api.php", params={"pass": full}, data={**params, "pass": web}
    )
    assert response.status_code == 403
    assert await Lead.all().count() == 0
    # In the body, a full token works; in the URL, a web-form token works
    assert (await demo.client.post("/include/api.php", data=params)).text == "1"
    in_url = {**params, "pass": web, "params": "Bo,Acme,bo@acme.example"}
    assert (await demo.client.get("/include/api.php", params=in_url)).text == "1"
    assert await Lead.all().count() == 2


def test_the_gate_and_the_auth_directives_agree() -> None:
    """A root field whose `@auth` accepts a narrow scope is exactly one the gate lets
    that scope call: neither can be widened alone."""
    from strawberry.permission import PermissionExtension

    from crm_graphql.models.auth import TokenScope
    from crm_graphql.permissions.base import Auth
    from crm_graphql.permissions.scopes import ROOT_FIELDS

    declared: dict[TokenScope, set[str]] = {}
    for type_name in ("Query", "Mutation"):
        definition = schema.get_type_by_name(type_name)
        assert definition is not None
        for field in definition.fields:
            name = schema.config.name_converter.from_field(field)
            for extension in field.extensions:
                if not isinstance(extension, PermissionExtension):
                    continue
                for permission in extension.permissions:
                    assert isinstance(permission, Auth)
                    for scope in permission.scopes:
                        if scope != TokenScope.FULL:
                            declared.setdefault(scope, set()).add(f"{type_name}.{name}")
    assert declared == {scope: set(fields) for scope, fields in ROOT_FIELDS.items()}
