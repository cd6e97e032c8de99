"""Login, bearer tokens, API tokens, scopes and the login rate limit, over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.auth import AuthToken, LoginAttempt
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_user

LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) {
    token expiresAt user { username } errors { field code message }
  }
}"""
VIEWER = "{ viewer { username permissions } }"


async def _login(api: Api, username: str, password: str) -> dict:
    return (await api.data(LOGIN, {"u": username, "p": password}))["login"]


async def test_login_returns_a_bearer_token_for_viewer(api: Api) -> None:
    await make_user("alice", password="alice-secret", profile="Standard user")
    result = await _login(api, "alice", "alice-secret")
    assert result["errors"] == []
    assert result["user"] == {"username": "alice"}
    expires = datetime.fromisoformat(result["expiresAt"])
    expected = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    assert abs((expires - expected).total_seconds()) < 60
    data = await api.data(VIEWER, token=result["token"])
    assert data["viewer"] == {
        "username": "alice",
        "permissions": ["CR", "CW", "IR", "IW", "LR", "LW"],
    }


async def test_superadmin_viewer_has_every_bit(api: Api) -> None:
    await make_user("root", password="root-secret", superadmin=True)
    token = (await _login(api, "root", "root-secret"))["token"]
    bits = (await api.data(VIEWER, token=token))["viewer"]["permissions"]
    assert bits == ["CR", "CW", "CM", "IR", "IW", "IM", "LR", "LW", "LM", "UM", "FM"]


async def test_every_wrong_credential_gets_the_same_error(api: Api) -> None:
    await make_user("bob", password="bob-secret")
    await make_user("off", password="off-secret", enabled=False)
    await make_user("nologin", password="nologin-secret", login_enabled=False)
    results = [
        await _login(api, "bob", "wrong-password"),
        await _login(api, "nobody-here", "bob-secret"),
        await _login(api, "off", "off-secret"),
        await _login(api, "nologin", "nologin-secret"),
    ]
    for result in results:
        assert result["token"] is None
        assert result["user"] is None
        assert result["errors"] == [
            {
                "field": None,
                "code": "INVALID_CREDENTIALS",
                "message": "Invalid username or password.",
            }
        ]
    assert await AuditEntry.filter(action="LOGIN_FAILED").count() == 4


async def test_tokens_are_stored_hashed(api: Api) -> None:
    await make_user("carol", password="carol-secret")
    token = (await _login(api, "carol", "carol-secret"))["token"]
    rows = await AuthToken.all().values()
    assert len(rows) == 1
    assert token not in {str(v) for v in rows[0].values()}
    assert rows[0]["token_hash"] != token and len(rows[0]["token_hash"]) == 64


async def test_no_token_is_unauthenticated(api: Api) -> None:
    body = await api.gql(VIEWER)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


@pytest.mark.parametrize(
    "header",
    ["Bearer crm_unknown-token", "Bearer not-even-ours", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_bad_tokens_get_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_session_token_is_refused(api: Api) -> None:
    await make_user("dave", password="dave-secret")
    token = (await _login(api, "dave", "dave-secret"))["token"]
    await AuthToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = await api.post(VIEWER, token=token)
    assert response.status_code == 401


async def test_logout_revokes_the_token(api: Api) -> None:
    await make_user("erin", password="erin-secret")
    token = (await _login(api, "erin", "erin-secret"))["token"]
    data = await api.data("mutation { logout { ok } }", token=token)
    assert data["logout"]["ok"] is True
    assert (await api.post(VIEWER, token=token)).status_code == 401


async def test_disabling_a_user_cuts_their_tokens(api: Api) -> None:
    user = await make_user("frank", password="frank-secret")
    token = (await _login(api, "frank", "frank-secret"))["token"]
    user.enabled = False
    await user.save()
    assert (await api.post(VIEWER, token=token)).status_code == 401


async def test_rate_limit_per_username_blocks_even_the_right_password(api: Api) -> None:
    await make_user("gina", password="gina-secret")
    for _ in range(settings.login_max_failures):
        assert (await _login(api, "gina", "wrong"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    result = await _login(api, "gina", "gina-secret")
    assert result["token"] is None
    assert result["errors"][0]["code"] == "RATE_LIMITED"
    # Unknown usernames are limited the same way, so the limit reveals nothing.
    for _ in range(settings.login_max_failures):
        await _login(api, "ghost", "wrong")
    assert (await _login(api, "ghost", "wrong"))["errors"][0]["code"] == "RATE_LIMITED"


async def test_old_failures_leave_the_window(api: Api) -> None:
    await make_user("hank", password="hank-secret")
    for _ in range(settings.login_max_failures + 1):
        await _login(api, "hank", "wrong")
    past = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds + 5)
    await LoginAttempt.all().update(created_at=past)
    assert (await _login(api, "hank", "hank-secret"))["errors"] == []


async def test_aliases_in_one_request_each_count(api: Api) -> None:
    await make_user("ivan", password="ivan-secret")
    aliases = " ".join(
        f'a{i}: login(username: "ivan", password: "wrong{i}") {{ errors {{ code }} }}'
        for i in range(10)
    )
    data = await api.data(f"mutation {{ {aliases} }}")
    codes = [data[f"a{i}"]["errors"][0]["code"] for i in range(10)]
    assert codes.count("INVALID_CREDENTIALS") == settings.login_max_failures
    assert codes.count("RATE_LIMITED") == 10 - settings.login_max_failures
    assert (await _login(api, "ivan", "ivan-secret"))["errors"][0]["code"] == "RATE_LIMITED"


async def test_batched_operations_each_count(client: httpx.AsyncClient, api: Api) -> None:
    await make_user("judy", password="judy-secret")
    size = settings.limits.max_batch_operations
    for first in (0, size):
        batch = [
            {"query": LOGIN, "variables": {"u": "judy", "p": f"wrong{first + i}"}}
            for i in range(size)
        ]
        response = await client.post("/graphql", json=batch)
        assert response.status_code == 200
        codes = [item["data"]["login"]["errors"][0]["code"] for item in response.json()]
        # Batched operations run one after another: each attempt is counted in turn.
        expected = [
            "INVALID_CREDENTIALS" if first + i < settings.login_max_failures else "RATE_LIMITED"
            for i in range(size)
        ]
        assert codes == expected
    assert (await _login(api, "judy", "judy-secret"))["errors"][0]["code"] == "RATE_LIMITED"


async def test_rate_limit_per_address(app: Starlette, api: Api) -> None:
    await make_user("kim", password="kim-secret")
    per_address = settings.login_max_failures * settings.login_address_factor
    for i in range(per_address):
        await _login(api, f"someone{i}", "wrong")
    # A fresh username from the same address is refused...
    assert (await _login(api, "kim", "kim-secret"))["errors"][0]["code"] == "RATE_LIMITED"
    # ...while another address may still log in.
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        assert (await _login(Api(other), "kim", "kim-secret"))["errors"] == []


API_TOKEN_CREATE = """mutation($input: ApiTokenCreateInput!) {
  apiTokenCreate(input: $input) {
    secret apiToken { id name scope kind prefix expiresAt revokedAt }
    errors { field code message }
  }
}"""


async def test_api_tokens_create_list_use_revoke(api: Api) -> None:
    await make_user("lena", password="lena-secret", profile="Standard user")
    session = (await _login(api, "lena", "lena-secret"))["token"]
    created = (await api.data(API_TOKEN_CREATE, {"input": {"name": "ERP sync"}}, token=session))[
        "apiTokenCreate"
    ]
    assert created["errors"] == []
    secret = created["secret"]
    token = created["apiToken"]
    assert secret.startswith("crm_") and secret.startswith(token["prefix"])
    assert token["scope"] == "FULL" and token["kind"] == "API" and token["expiresAt"] is None

    listed = (await api.data("{ apiTokens { id name prefix } }", token=session))["apiTokens"]
    assert listed == [{"id": token["id"], "name": "ERP sync", "prefix": token["prefix"]}]

    assert (await api.data(VIEWER, token=secret))["viewer"]["username"] == "lena"

    revoked = await api.data(
        "mutation($id: ID!) { apiTokenRevoke(id: $id) { apiToken { revokedAt } errors { code } } }",
        {"id": token["id"]},
        token=session,
    )
    assert revoked["apiTokenRevoke"]["apiToken"]["revokedAt"] is not None
    assert (await api.post(VIEWER, token=secret)).status_code == 401


async def test_api_token_expiry_must_be_future_and_is_enforced(api: Api) -> None:
    await make_user("mia", password="mia-secret")
    session = (await _login(api, "mia", "mia-secret"))["token"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused = (
        await api.data(API_TOKEN_CREATE, {"input": {"name": "x", "expiresAt": past}}, token=session)
    )["apiTokenCreate"]
    assert refused["secret"] is None
    assert refused["errors"][0]["field"] == "expiresAt"
    assert await AuthToken.filter(kind="API").count() == 0

    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = (
        await api.data(API_TOKEN_CREATE, {"input": {"name": "y", "expiresAt": soon}}, token=session)
    )["apiTokenCreate"]
    assert (await api.post(VIEWER, token=created["secret"])).status_code == 200
    await AuthToken.filter(kind="API").update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await api.post(VIEWER, token=created["secret"])).status_code == 401


async def test_empty_token_name_is_a_payload_error(api: Api) -> None:
    await make_user("ned", password="ned-secret")
    session = (await _login(api, "ned", "ned-secret"))["token"]
    result = (await api.data(API_TOKEN_CREATE, {"input": {"name": "  "}}, token=session))[
        "apiTokenCreate"
    ]
    assert result["errors"][0]["field"] == "name"
    assert result["apiToken"] is None


async def test_only_the_owner_or_um_revokes_a_token(api: Api) -> None:
    await make_user("olga", password="olga-secret")
    await make_user("pete", password="pete-secret")
    await make_user("quinn", password="quinn-secret", bits=("UM",))
    olga = (await _login(api, "olga", "olga-secret"))["token"]
    pete = (await _login(api, "pete", "pete-secret"))["token"]
    quinn = (await _login(api, "quinn", "quinn-secret"))["token"]
    created = (await api.data(API_TOKEN_CREATE, {"input": {"name": "o"}}, token=olga))[
        "apiTokenCreate"
    ]
    revoke = "mutation($id: ID!) { apiTokenRevoke(id: $id) { apiToken { id } errors { code } } }"
    by_pete = await api.data(revoke, {"id": created["apiToken"]["id"]}, token=pete)
    assert by_pete["apiTokenRevoke"]["errors"] == [{"code": "NOT_FOUND"}]
    assert (await api.post(VIEWER, token=created["secret"])).status_code == 200
    everyone = await api.data("{ apiTokens(all: true) { name } }", token=quinn)
    assert everyone["apiTokens"] == [{"name": "o"}]
    by_quinn = await api.data(revoke, {"id": created["apiToken"]["id"]}, token=quinn)
    assert by_quinn["apiTokenRevoke"]["errors"] == []
    assert (await api.post(VIEWER, token=created["secret"])).status_code == 401


async def test_leads_create_token_can_do_nothing_else(api: Api) -> None:
    await make_user("rita", password="rita-secret", superadmin=True)
    session = (await _login(api, "rita", "rita-secret"))["token"]
    created = (
        await api.data(
            API_TOKEN_CREATE,
            {"input": {"name": "web form", "scope": "LEADS_CREATE"}},
            token=session,
        )
    )["apiTokenCreate"]
    narrow = created["secret"]
    for query in (VIEWER, "{ users { totalCount } }", "{ apiTokens { id } }"):
        body = await api.gql(query, token=narrow)
        assert error_codes(body) == ["FORBIDDEN"], body
    body = await api.gql(API_TOKEN_CREATE, {"input": {"name": "escalate"}}, token=narrow)
    assert error_codes(body) == ["FORBIDDEN"]
    assert await AuthToken.filter(name="escalate").count() == 0
    assert await AuditEntry.filter(action="DENIED", username="rita").count() == 4


async def test_password_change(api: Api) -> None:
    await make_user("sam", password="sam-secret")
    token = (await _login(api, "sam", "sam-secret"))["token"]
    change = """mutation($c: String!, $n: String!) {
      viewerPasswordChange(currentPassword: $c, newPassword: $n) { ok errors { field code } }
    }"""
    wrong = await api.data(change, {"c": "nope", "n": "a-new-password"}, token=token)
    assert wrong["viewerPasswordChange"] == {
        "ok": False,
        "errors": [{"field": "currentPassword", "code": "INVALID_CREDENTIALS"}],
    }
    short = await api.data(change, {"c": "sam-secret", "n": "short"}, token=token)
    assert short["viewerPasswordChange"]["errors"] == [{"field": "newPassword", "code": "INVALID"}]
    ok = await api.data(change, {"c": "sam-secret", "n": "a-new-password"}, token=token)
    assert ok["viewerPasswordChange"] == {"ok": True, "errors": []}
    assert (await _login(api, "sam", "sam-secret"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await _login(api, "sam", "a-new-password"))["errors"] == []


async def test_concurrent_correct_logins_all_succeed(api: Api) -> None:
    await make_user("lena", password="lena-secret")
    await make_user("mona", password="mona-secret")
    results = await asyncio.gather(*(_login(api, "lena", "lena-secret") for _ in range(24)))
    assert [r["errors"] for r in results] == [[]] * 24
    assert len({r["token"] for r in results}) == 24
    # Nobody is locked out afterwards: the user, nor another user from the address.
    assert (await _login(api, "lena", "lena-secret"))["errors"] == []
    assert (await _login(api, "mona", "mona-secret"))["errors"] == []
    assert not await LoginAttempt.filter(succeeded=False).exists()


async def test_concurrent_wrong_passwords_still_throttle(api: Api) -> None:
    await make_user("nina", password="nina-secret")
    results = await asyncio.gather(*(_login(api, "nina", f"wrong{i}") for i in range(24)))
    codes = {r["errors"][0]["code"] for r in results}
    assert codes <= {"INVALID_CREDENTIALS", "RATE_LIMITED"}
    assert "INVALID_CREDENTIALS" in codes
    assert (await _login(api, "nina", "nina-secret"))["errors"][0]["code"] == "RATE_LIMITED"


async def test_a_password_change_bumps_the_version_in_sql(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_graphql.models.users import User
    from crm_graphql.resolvers import auth as auth_resolvers

    user = await make_user("olga", password="olga-secret")
    token = (await _login(api, "olga", "olga-secret"))["token"]
    hash_new = auth_resolvers.hash_password_async

    async def hash_while_an_admin_saves(password: str) -> str:
        # A userUpdate commits while the new password is being hashed (argon2 takes a
        # while), after the viewer's row was read.
        await User.filter(id=user.id).update(version=2)
        return await hash_new(password)

    monkeypatch.setattr(auth_resolvers, "hash_password_async", hash_while_an_admin_saves)
    data = await api.data(
        'mutation { viewerPasswordChange(currentPassword: "olga-secret", '
        'newPassword: "olga-new-secret") { ok errors { code } } }',
        token=token,
    )
    assert data["viewerPasswordChange"] == {"ok": True, "errors": []}
    assert (await User.get(id=user.id)).version == 3  # not 2 again
    monkeypatch.undo()
    assert (await _login(api, "olga", "olga-new-secret"))["errors"] == []
