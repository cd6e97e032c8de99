"""Benchmark: a worker's resident memory (RSS) over many requests under each garbage
collector policy, with the latency each buys.

    .venv/bin/python bench/gc_memory.py [--requests 10000] [--clients 8]
        [--variants old,none,freeze,chosen] [--every 1000] [--port 18750]

For each variant a fresh SQLite database gets the demo data (`crm-graphql demo`), then a
real uvicorn worker serves it in a child process, with `app.tune_garbage_collector`
replaced by the variant:

- `old`: what the app did before issue 13: `gc.freeze()` then
  `gc.set_threshold(50_000, 20, 100)`;
- `none`: no tuning (the interpreter's defaults, 700/10/10);
- `freeze`: `gc.freeze()` after start-up, default thresholds;
- `chosen`: the app's `tune_garbage_collector` as it is now.

--clients concurrent clients send --requests requests (of ten: seven companies pages
with managers and contacts, one company update, one stale update refused with STALE and
one query that fails validation: error paths raise exceptions, whose tracebacks are the
reference cycles only the collector frees), and the worker's RSS is read from
/proc every --every requests. Prints RSS (MB) at each sample, the growth after the first
sample, and p50/p99 latency and requests/s."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVE = """
import gc, sys
import uvicorn
import crm_graphql.app as app_module

def old():
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)

def freeze():
    gc.collect()
    gc.freeze()

variant = sys.argv[1]
variants = {"old": old, "none": lambda: None, "freeze": freeze}
if variant != "chosen":
    app_module.tune_garbage_collector = variants[variant]
uvicorn.run(app_module.create_app(), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""
PAGE = """{ companies(first: 20) { edges { node { name manager { username }
  contacts(first: 5) { edges { node { fullName email } } } } } } }"""
STALE = """mutation($id: ID!) { companyUpdate(input: {id: $id, version: 0, comments: "x"})
  { errors { code } } }"""
UPDATE = """mutation($id: ID!, $c: String) { companyUpdate(input: {id: $id, comments: $c})
  { errors { code } } }"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def drive(base: str, pid: int, requests: int, clients: int, every: int) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        login = await http.post(
            "/graphql",
            json={"query": 'mutation { login(username: "admin", password: "admin") { token } }'},
        )
        token = login.json()["data"]["login"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        page = await http.post("/graphql", json={"query": PAGE}, headers=headers)
        company = page.json()["data"]["companies"]["edges"][0]["node"]["name"]
        ids = await http.post(
            "/graphql",
            json={"query": "{ companies(first: 1) { edges { node { id } } } }"},
            headers=headers,
        )
        company_id = ids.json()["data"]["companies"]["edges"][0]["node"]["id"]
        assert company
        done = completed = 0
        samples: list[tuple[int, float]] = [(0, rss_mb(pid))]
        latencies: list[float] = []
        started = time.perf_counter()

        async def client() -> None:
            nonlocal done, completed
            while done < requests:
                n = done
                done += 1
                if n % 10 == 9:
                    body = {"query": UPDATE, "variables": {"id": company_id, "c": f"c{n}"}}
                elif n % 10 == 8:
                    body = {"query": STALE, "variables": {"id": company_id}}
                elif n % 10 == 7:
                    body = {"query": "{ companies(first: 1) { edges { node { nope } } } }"}
                else:
                    body = {"query": PAGE}
                t0 = time.perf_counter()
                response = await http.post("/graphql", json=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                assert response.status_code == 200
                completed += 1
                if completed % every == 0:
                    samples.append((completed, rss_mb(pid)))

        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "samples": samples,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "rps": requests / elapsed,
    }


def run_variant(variant: str, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"crm-gc-{variant}-"))
    env = {
        **os.environ,
        "CRM_DATABASE_URL": f"sqlite://{workdir / 'db.sqlite3'}",
        "CRM_DATA_DIR": str(workdir / "data"),
        "CRM_MAIL_WORKERS": "0",
        "CRM_MODE": "development",
    }
    cli = [sys.executable, "-m", "crm_graphql.cli"]
    subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, variant, str(args.port)], env=env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        return asyncio.run(drive(base, process.pid, args.requests, args.clients, args.every))
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--variants", default="old,none,freeze,chosen")
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18750)
    args = parser.parse_args()
    print("load before:", os.getloadavg())
    for variant in args.variants.split(","):
        assert port_free(args.port), f"port {args.port} is taken"
        result = run_variant(variant, args)
        rss = [f"{mb:.0f}" for _, mb in result["samples"]]
        growth = result["samples"][-1][1] - result["samples"][1][1]
        print(
            f"{variant:7} RSS MB every {args.every} requests: {' '.join(rss)} | "
            f"growth after the first {args.every}: {growth:+.0f} MB | "
            f"p50 {result['p50']:.1f} ms p99 {result['p99']:.1f} ms "
            f"{result['rps']:.0f} req/s",
            flush=True,
        )
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
