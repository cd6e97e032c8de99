"""API tokens made as clients make them."""

from __future__ import annotations

from tests.factories import Api

API_TOKEN_CREATE = """mutation($input: ApiTokenCreateInput!) {
  apiTokenCreate(input: $input) { secret errors { code } }
}"""


async def api_token(api: Api, username: str, scope: str = "FULL") -> str:
    """An API token made as a client would: apiTokenCreate with the user's session."""
    data = await api.data(
        API_TOKEN_CREATE, {"input": {"name": f"{scope} token", "scope": scope}}, as_user=username
    )
    assert data["apiTokenCreate"]["errors"] == []
    return data["apiTokenCreate"]["secret"]
