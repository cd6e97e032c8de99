"""Benchmark: how soon a subscriber gets a change (issue 16: within 1 s of the commit at
1,000 events/s on PostgreSQL).

    .venv/bin/python bench/events_live.py --database-url postgres://…/<db>
        [--rate 1000] [--seconds 10] [--batch 10] [--writers 4]

Starts `crm-graphql serve` (a real uvicorn process) on a fresh database, subscribes to
`changes` over graphql-transport-ws as a superadmin, then writes events at `--rate` per
second from this process (`--writers` concurrent writers, transactions of `--batch`
events through `services.events.record`, as mutations write them) and notes each
commit's time. The
subscriber notes when each event arrives; the figures are arrival minus commit (same
clock), per event: p50, p95, p99, max, and how many arrived. The baseline in the same
run is the bare PostgreSQL path: a raw LISTEN connection's delay from the commit to the
NOTIFY's arrival."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SUBSCRIBE = "subscription Live { changes { objectId } }"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL (created)")
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=float, default=10, help="how long to write")
    parser.add_argument("--batch", type=int, default=10, help="events per transaction")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers")
    return parser.parse_args()


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-qc", sql], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _figures(delays: list[float]) -> dict[str, Any]:
    if not delays:
        return {"arrived": 0}
    ordered = sorted(delays)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)  # noqa: E731
    return {
        "arrived": len(delays),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def run(args: argparse.Namespace, base: str) -> dict[str, Any]:
    import asyncpg
    import httpx
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction
    from websockets.asyncio.client import connect

    from crm_graphql.models.events import EventAction, EventObjectType
    from crm_graphql.services import events
    from crm_graphql.settings import tortoise_config

    await Tortoise.init(config=tortoise_config(os.environ["CRM_DATABASE_URL"]))
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.post(
            "/graphql",
            json={"query": 'mutation { login(username: "admin", password: "admin") { token } }'},
        )
        token = login.json()["data"]["login"]["token"]

    committed: dict[int, float] = {}
    arrived: dict[int, float] = {}
    notified: list[float] = []
    notify_commits: dict[str, float] = {}

    raw = await asyncpg.connect(os.environ["CRM_DATABASE_URL"])
    await raw.add_listener(
        "crm_events",
        lambda *a: (
            notify_commits.get(a[3]) is not None
            and notified.append(time.perf_counter() - notify_commits[a[3]])
        ),
    )

    ws = await connect(
        base.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=None,
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))

    total = int(args.rate * args.seconds)
    everything = asyncio.Event()

    async def receive() -> None:
        async for message in ws:
            data = json.loads(message)
            if data.get("type") == "next":
                arrived[int(data["payload"]["data"]["changes"]["objectId"])] = time.perf_counter()
                if len(arrived) >= total:
                    everything.set()

    receiver = asyncio.create_task(receive())
    await asyncio.sleep(2)  # the subscription has taken its starting position

    interval = args.batch / args.rate
    start = time.perf_counter()
    numbers = iter(range(1, total + 1))

    async def writer(lane: int) -> None:
        # Each writer takes every `writers`-th batch of the schedule.
        batch_no = lane
        while True:
            due = start + batch_no * args.batch / args.rate
            batch_no += args.writers
            ids = [n for _, n in zip(range(args.batch), numbers, strict=False)]
            if not ids:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with in_transaction() as conn:
                last_id = 0
                for n in ids:
                    last_id = await events.record(
                        conn, EventObjectType.COMPANY, n, EventAction.UPDATE, {}, None
                    )
            now = time.perf_counter()
            for n in ids:
                committed[n] = now
            notify_commits[str(last_id)] = now

    await asyncio.gather(*(writer(lane) for lane in range(args.writers)))
    wrote_for = time.perf_counter() - start
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everything.wait(), 10)
    receiver.cancel()
    await ws.close()
    await raw.close()
    await Tortoise.close_connections()
    delays = [arrived[k] - committed[k] for k in committed if k in arrived]
    return {
        "events": total,
        "write_rate_per_s": round(total / wrote_for),
        "interval_ms": round(interval * 1000, 1),
        "subscriber": _figures(delays),
        "within_1s_percent": round(100 * sum(d <= 1 for d in delays) / total, 2),
        "baseline_notify": _figures(notified),
    }


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    admin, name = _admin_url(args.database_url)
    _psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    _psql(admin, f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "CRM_DATABASE_URL": args.database_url,
        "CRM_DATA_DIR": str(tmp / "data"),
        "CRM_LOG_LEVEL": "warning",
        "CRM_MAIL_WORKERS": "0",
    }
    os.environ.update({k: env[k] for k in ("CRM_DATABASE_URL", "CRM_DATA_DIR")})
    cli = [sys.executable, "-m", "crm_graphql.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        figures = asyncio.run(run(args, base))
    finally:
        server.terminate()
        server.wait(timeout=15)
        _psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    figures["load"] = os.getloadavg()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
