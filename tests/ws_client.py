"""A graphql-transport-ws client for tests against real uvicorn servers (the websockets
library): open a connection with a bearer token in connection_init, wait for the ack,
read the next message that is not a ping."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


async def open_ws(base: str, token: str | None) -> ClientConnection:
    ws = await connect(ws_url(base), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def acked(base: str, token: str) -> ClientConnection:
    ws = await open_ws(base, token)
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "connection_ack", message
    return ws


async def next_message(ws: ClientConnection, seconds: float = 10) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), seconds))
        if message["type"] != "ping":
            return message
