"""Cross-site requests and browser-facing headers (websecurity.py): a POST a plain HTML
form of another site could make (multipart, form-urlencoded, text/plain) needs a
bearer token or a preflight header; every answer carries nosniff, frame protection and
a referrer policy, and /graphql's are never cached."""

from __future__ import annotations

import json

import httpx
import pytest

from crm_graphql.models.auth import LoginAttempt
from tests.factories import Api

LOGIN = 'mutation { login(username: "user1", password: "wrong") { token errors { code } } }'


def _csrf_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "cross-site request forgery" in error["message"]
    assert "X-CRM-CSRF" in error["message"]


def _secure_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


def _multipart_login() -> dict[str, object]:
    """The login mutation as a hostile page's <form enctype="multipart/form-data">."""
    return {
        "data": {"operations": json.dumps({"query": LOGIN}), "map": "{}"},
        "files": {"none": ("", b"", "application/octet-stream")},
    }


async def test_a_cross_site_form_cannot_post_to_graphql(demo: Api) -> None:
    client = demo.client
    attempts = await LoginAttempt.all().count()
    # A form's multipart body, a urlencoded body, text/plain, no content type at all
    _csrf_refused(await client.post("/graphql", **_multipart_login()))  # type: ignore[arg-type]
    _csrf_refused(await client.post("/graphql", data={"query": LOGIN}))
    _csrf_refused(
        await client.post(
            "/graphql",
            content=json.dumps({"query": LOGIN}),
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
    )
    _csrf_refused(await client.post("/graphql", content=json.dumps({"query": LOGIN})))
    # An empty preflight header is no header
    _csrf_refused(
        await client.post("/graphql", headers={"X-CRM-CSRF": " "}, **_multipart_login())  # type: ignore[arg-type]
    )
    # Nothing ran: no login attempt was counted against the account
    assert await LoginAttempt.all().count() == attempts


@pytest.mark.parametrize("header", ["X-CRM-CSRF", "Apollo-Require-Preflight", "Authorization"])
async def test_a_header_a_form_cannot_send_lets_multipart_through(demo: Api, header: str) -> None:
    value = f"Bearer {demo.tokens['user1']}" if header == "Authorization" else "1"
    response = await demo.client.post(
        "/graphql",
        headers={header: value},
        **_multipart_login(),  # type: ignore[arg-type]
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    _secure_headers(response)


async def test_json_needs_no_preflight_header(demo: Api) -> None:
    # application/json is not a simple content type: a browser preflights it (refused)
    response = await demo.client.post("/graphql", json={"query": LOGIN})
    assert response.status_code == 200
    assert response.json()["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    _secure_headers(response)


async def test_security_headers_on_graphql_graphiql_and_errors(demo: Api) -> None:
    client = demo.client
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    _secure_headers(page)
    _secure_headers(await client.get("/graphql?query={__typename}"))
    # Errors: bad token (401), cross-site refusal (400), a bad document
    _secure_headers(
        await client.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={"Authorization": "Bearer x"}
        )
    )
    _secure_headers(await client.post("/graphql", data={"query": LOGIN}))
    _secure_headers(await client.post("/graphql", json={"query": "{"}))
    # Every other answer is at least nosniff; the web form's pages may be framed
    for path in ("/healthz", "/calendar/crm_unknown.ics", "/include/api.php"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert "x-frame-options" not in (await client.get("/include/api.php")).headers
