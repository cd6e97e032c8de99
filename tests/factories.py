"""Builders for test data and a small GraphQL-over-HTTP client."""

from __future__ import annotations

from typing import Any

import httpx

from crm_graphql.models.companies import Company
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.services.passwords import hash_password


class Api:
    """Posts GraphQL over HTTP as a client would; remembers tokens by username."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        bearer = token or (self.tokens[as_user] if as_user else None)
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=all_headers)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        response = await self.post(query, variables, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The `data` of a response that must have no errors."""
        body = await self.gql(query, variables, **kw)
        assert "errors" not in body, body
        return body["data"]

    async def login(self, username: str, password: str) -> str:
        data = await self.data(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { code message } } }",
            {"u": username, "p": password},
        )
        assert data["login"]["errors"] == [], data
        return data["login"]["token"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def make_user(
    username: str,
    *,
    password: str | None = None,
    profile: str | None = None,
    bits: tuple[str, ...] = (),
    company: Company | None = None,
    superadmin: bool = False,
    **fields: Any,
) -> User:
    """A user holding a seeded profile by name, or a new profile with exactly `bits`."""
    user = await User.create(
        username=username,
        password_hash=hash_password(password or username + "-pass"),
        is_superadmin=superadmin,
        company=company,
        **fields,
    )
    group = await Group.get(name="All")
    if profile:
        await Assignment.create(user=user, profile=await Profile.get(name=profile), group=group)
    if bits:
        made = await Profile.create(name=f"{username}-profile", **{b.lower(): True for b in bits})
        await Assignment.create(user=user, profile=made, group=group)
    return user
