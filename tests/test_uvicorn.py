"""The real thing: `crm-graphql demo` then `crm-graphql serve` in a child process under
uvicorn, spoken to over a TCP socket (ASGI-transport tests cannot catch ORM context
bugs that only show under uvicorn)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATABASE_URL

CLI = [sys.executable, "-m", "crm_graphql.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "CRM_DATABASE_URL": DATABASE_URL, "CRM_DATA_DIR": str(tmp_path)}
    demo = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "user1" in demo.stdout and "manager1" in demo.stdout
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"server did not start:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_login_then_viewer_over_real_uvicorn(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation { login(username: "user1", password: "user1") '
                "{ token errors { code } } }"
            },
        )
        assert login.status_code == 200, login.text
        token = login.json()["data"]["login"]["token"]
        viewer = await http.post(
            "/graphql",
            json={"query": "{ viewer { username permissions } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert viewer.json() == {
            "data": {
                "viewer": {"username": "user1", "permissions": ["CR", "CW", "IR", "IW", "LR", "LW"]}
            }
        }
        assert viewer.headers["x-request-id"]
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "/static/graphiql/graphiql.min.js" in page.text
