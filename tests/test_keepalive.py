"""A database error while the bearer token is checked: a clean JSON 503 with a code, and
the keep-alive connection carries the client's next request (real uvicorn, a raw
HTTP/1.1 client on one socket, a real database error)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
from tortoise import Tortoise


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes, token: str = ""
) -> tuple[int, dict[str, str], bytes]:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(
        (
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    payload = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return status, headers, payload


async def test_a_database_error_during_authentication_keeps_the_connection(
    demo_server: str,
) -> None:
    async with httpx.AsyncClient(base_url=demo_server, timeout=10) as http:
        login = await http.post(
            "/graphql",
            json={"query": 'mutation { login(username: "user1", password: "user1") { token } }'},
        )
        token = login.json()["data"]["login"]["token"]
    url = urlsplit(demo_server)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    connection = Tortoise.get_connection("default")
    # A real database error in the token lookup: its table is gone for a moment.
    await connection.execute_script('ALTER TABLE "auth_tokens" RENAME TO "auth_tokens_away"')
    try:
        status, headers, payload = await _exchange(
            reader, writer, b'{"query": "{ viewer { username } }"}', token
        )
    finally:
        await connection.execute_script('ALTER TABLE "auth_tokens_away" RENAME TO "auth_tokens"')
    try:
        assert status == 503
        assert headers["content-type"] == "application/json"
        error = json.loads(payload)["errors"][0]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["requestId"] == headers["x-request-id"]
        assert headers.get("connection") != "close"
        # The same connection serves the next request.
        status, _, payload = await _exchange(
            reader, writer, b'{"query": "{ viewer { username } }"}', token
        )
        assert status == 200
        assert json.loads(payload) == {"data": {"viewer": {"username": "user1"}}}
    finally:
        writer.close()
