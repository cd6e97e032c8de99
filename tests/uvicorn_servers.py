"""Real `crm-graphql` processes: `serve` for tests of several instances, renderer faults
and connection faults (started on free ports, stopped with their children, Chromium
included, at the end), and one-off commands run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from crm_graphql.services import pdf_queue
from tests.conftest import DATABASE_URL
from tests.mailservers import free_port

CLI = [sys.executable, "-m", "crm_graphql.cli"]


def wait_ready(
    base: str, process: subprocess.Popen[str], seconds: float, output: Callable[[], str]
) -> None:
    """Wait until GET /readyz answers 200; `output()` (the server's log) goes into the
    failure when it exits or takes longer than `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                # Reading a live server's output would wait for it forever: stop it first.
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
            raise AssertionError(f"server did not start:\n{output()}")
        time.sleep(0.2)


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CRM_DATABASE_URL": DATABASE_URL,
        "CRM_DATA_DIR": str(data_dir),
        "CRM_LOG_LEVEL": "warning",
        **extra,
    }


def run(
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: no terminal on stdin, the test database unless
    `env` says otherwise (a value None removes the variable)."""
    full = {**os.environ, "CRM_DATABASE_URL": DATABASE_URL, "CRM_DATA_DIR": str(tmp_path)}
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return subprocess.run(
        [*CLI, *args],
        env=full,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_demo(env: dict[str, str]) -> None:
    demo = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr


@contextmanager
def serving(env: dict[str, str], *extra_args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A server on a free port, ready (GET /readyz answers 200) before it is yielded;
    `extra_args` go to `serve` (e.g. "--workers", "2").

    Meanwhile the test process's own render loop (the session app's) claims nothing: the
    server under test renders the PDFs it queues, into its own file store."""
    port = free_port()
    Path(env["CRM_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    log = Path(env["CRM_DATA_DIR"]) / f"server-{port}.log"  # read it when a test fails
    output = log.open("w")
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), *extra_args],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: Chromium goes with it
    )
    output.close()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, 60, log.read_text)
        with pdf_queue.held():
            yield base, process
    finally:
        for pid in descendants(process.pid):  # a stopped Chromium must not stay stopped
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serving_at(tmp_path: Path, **extra_env: str) -> Iterator[str]:
    """`crm-graphql serve` on the test database with a 10 s query deadline, data under
    `tmp_path`; yields its base URL."""
    env = server_env(tmp_path, CRM_QUERY_TIMEOUT_SECONDS="10", **extra_env)
    with serving(env) as (base, _):
        yield base


async def post(http: httpx.AsyncClient, query: str, token: str, **variables: Any) -> Any:
    """The JSON body of a GraphQL request with a bearer token (status 200 asserted)."""
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def loadadmin_token(http: httpx.AsyncClient) -> str:
    """The token of the `loadadmin` superadmin (the `loadadmin` fixture) on a server."""
    login = await http.post(
        "/graphql",
        json={
            "query": 'mutation { login(username: "loadadmin", password: '
            '"loadadmin-secret") { token } }'
        },
    )
    return login.json()["data"]["login"]["token"]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def chromium_pids(server_pid: int) -> list[int]:
    pids = []
    for pid in descendants(server_pid):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if "chrom" in name:
            pids.append(pid)
    return pids


class Client:
    """A GraphQL client of one server, logged in as one user."""

    def __init__(self, base: str, timeout: float = 30) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=timeout)
        self.token = ""

    async def login(self, username: str) -> Client:
        body = await self.gql(
            "mutation($u: String!) { login(username: $u, password: $u) { token } }",
            {"u": username},
        )
        self.token = body["data"]["login"]["token"]
        return self

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {self.token}"})

    async def close(self) -> None:
        await self.http.aclose()
