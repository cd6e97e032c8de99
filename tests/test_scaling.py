"""Nothing one process needs from another lives in memory: two app instances on one
database share tokens, revocations and login-attempt counts."""

from __future__ import annotations

import httpx

from crm_graphql.app import create_app
from crm_graphql.settings import settings
from tests.factories import Api, make_user


async def test_two_instances_share_tokens_and_rate_limits(api: Api) -> None:
    other_app = create_app(settings)
    transport = httpx.ASGITransport(app=other_app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as http:
        other = Api(http)
        await make_user("zoe", password="zoe-secret")
        token = await api.login("zoe", "zoe-secret")
        data = await other.data("{ viewer { username } }", token=token)
        assert data["viewer"]["username"] == "zoe"

        await other.data("mutation { logout { ok } }", token=token)
        assert (await api.post("{ viewer { username } }", token=token)).status_code == 401

        login = 'mutation { login(username: "zoe", password: "bad") { errors { code } } }'
        for i in range(settings.login_max_failures):
            await (api if i % 2 else other).data(login)
        good = 'mutation { login(username: "zoe", password: "zoe-secret") { errors { code } } }'
        assert (await other.data(good))["login"]["errors"] == [{"code": "RATE_LIMITED"}]
