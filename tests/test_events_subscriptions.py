"""Live subscriptions (issue 16): `changes` over graphql-transport-ws on /graphql, with a
real WebSocket client against real uvicorn servers. On PostgreSQL a change made through
one server (two workers) reaches a subscriber on another (LISTEN/NOTIFY); on SQLite one
server wakes its own subscribers. Authentication in connection_init, the access rule at
delivery, the per-connection limit and a revoked token are checked too."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crm_graphql.models.auth import AuthToken, TokenScope
from crm_graphql.models.users import User
from crm_graphql.services.auth import hash_token
from tests.conftest import IS_POSTGRES
from tests.factories import company_id, make_token
from tests.uvicorn_servers import Client, load_demo, server_env, serving
from tests.ws_client import acked, next_message, open_ws, ws_url

SUBSCRIBE = """subscription Live($types: [ChangeObjectType!]) {
  changes(types: $types) { objectType objectId action changes }
}"""
UPDATE = """mutation($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { errors { code } }
}"""


async def subscribe(ws: ClientConnection, op: str, types: list[str] | None = None) -> None:
    await ws.send(
        json.dumps(
            {
                "id": op,
                "type": "subscribe",
                "payload": {
                    "query": SUBSCRIBE,
                    "operationName": "Live",
                    "variables": {"types": types},
                },
            }
        )
    )


async def _servers(tmp_path: Path, stack: ExitStack) -> tuple[str, str]:
    first_env = server_env(tmp_path / "a")
    load_demo(first_env)
    if IS_POSTGRES:
        a_base, _ = stack.enter_context(serving(first_env, "--workers", "2"))
        b_base, _ = stack.enter_context(serving(server_env(tmp_path / "b")))
        return a_base, b_base
    base, _ = stack.enter_context(serving(first_env))
    return base, base


async def test_a_subscriber_gets_what_it_may_see_from_another_process(tmp_path: Path) -> None:
    with ExitStack() as stack:
        writer_base, reader_base = await _servers(tmp_path, stack)
        a = await company_id("Customer #A")
        ours = await company_id("My company")
        admin = await Client(writer_base).login("admin")
        reader = await Client(reader_base).login("user1")
        ws = await acked(reader_base, reader.token)
        try:
            await subscribe(ws, "1", ["COMPANY"])
            await asyncio.sleep(1.0)  # the subscription has taken its starting position
            # My company (no parent) is hidden from user1; Customer #A is not.
            hidden = await admin.gql(UPDATE, {"id": ours, "c": "secret"})
            assert hidden["data"]["companyUpdate"]["errors"] == []
            shown = await admin.gql(UPDATE, {"id": a, "c": "hello"})
            assert shown["data"]["companyUpdate"]["errors"] == []
            message = await next_message(ws)
            assert message["type"] == "next", message
            assert message["payload"]["data"]["changes"] == {
                "objectType": "COMPANY",
                "objectId": a,
                "action": "UPDATE",
                "changes": {"comments": ["", "hello"]},
            }
            # Nothing else arrives: the hidden change never does.
            with pytest.raises(TimeoutError):
                await next_message(ws, 1.5)

            # A revoked token ends the subscription.
            await AuthToken.filter(token_hash=hash_token(reader.token)).update(
                revoked_at=datetime.now(UTC)
            )
            ended = await next_message(ws, 10)
            assert ended["type"] in ("error", "next"), ended
            if ended["type"] == "next":
                codes = [e["extensions"]["code"] for e in ended["payload"]["errors"]]
                assert codes == ["UNAUTHENTICATED"]
                assert (await next_message(ws))["type"] == "complete"
        finally:
            await ws.close()
            await admin.close()
            await reader.close()


async def test_subscriptions_refuse_bad_connections_and_too_many(tmp_path: Path) -> None:
    with ExitStack() as stack:
        base, _ = stack.enter_context(serving(server_env(tmp_path / "a")))
        load_demo(server_env(tmp_path / "a"))
        user = await Client(base).login("user1")
        try:
            # No token in connection_init: closed with 4403 before any operation.
            anonymous = await open_ws(base, None)
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(anonymous)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            # A made-up token: the same.
            forged = await open_ws(base, "crm_" + "0" * 43)
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(forged)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            # A narrow (web form) token: the same.
            narrow = await make_token(
                await User.get(username="user1"), scope=TokenScope.LEADS_CREATE
            )
            webform = await open_ws(base, narrow)
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(webform)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            # Subscribing without connection_init: 4401.
            raw = await connect(ws_url(base), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            await subscribe(raw, "1")
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(raw)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

            # At most CRM_SUBSCRIPTIONS_PER_CONNECTION (5) at once on one connection.
            ws = await acked(base, user.token)
            try:
                for op in range(5):
                    await subscribe(ws, str(op))
                await subscribe(ws, "extra")
                refused = await next_message(ws)
                assert refused["id"] == "extra" and refused["type"] == "error"
                assert "limit" in refused["payload"][0]["message"]
            finally:
                await ws.close()
        finally:
            await user.close()
