"""Benchmark: what the event log adds to a mutation (issue 16: at most +15% of p50).

    .venv/bin/python bench/events.py [--database-url URL] [--rounds 10] [--per-round 50]
        [--warmup 50]

Loads the demo world, logs in as `user1`, then times sequential `companyUpdate`
mutations (a new comment each time) over HTTP against `create_app()` in process
(httpx.ASGITransport), alternately WITH the event log (the product) and WITHOUT it
(`services.events.record` replaced by a no-op for the round), in interleaved rounds
so machine load hits both alike. The raw-SQL baseline in the same run is the
mutation's own writes by hand (UPDATE of the company, INSERT of the audit entry and,
for the "with" line, of the event) in one transaction, without GraphQL.

SQLite by default (a temporary file). With a PostgreSQL URL the database is created,
and dropped at the end."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

UPDATE = """mutation Update($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { company { id } errors { code } } }"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each mode")
    parser.add_argument("--per-round", type=int, default=50, help="mutations per round")
    parser.add_argument("--warmup", type=int, default=50, help="untimed mutations first")
    return parser.parse_args()


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-qc", sql], check=True, capture_output=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from tortoise import Tortoise

    from crm_graphql.app import create_app
    from crm_graphql.models.companies import Company
    from crm_graphql.services import events
    from crm_graphql.services.database import apply_migrations
    from crm_graphql.services.demo import load_demo
    from crm_graphql.settings import settings, tortoise_config

    await apply_migrations(tortoise_config(os.environ["CRM_DATABASE_URL"]))
    app = create_app(settings)
    results: dict[str, list[float]] = {"with": [], "without": [], "raw_with": [], "raw_without": []}
    real_record = events.record

    async def skip(*_: Any, **__: Any) -> int:
        return 0

    async with app.router.lifespan_context(app):
        await load_demo(sample_data=False)
        company = await Company.get(name="Customer #A")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post(
                "/graphql",
                json={
                    "query": 'mutation { login(username: "user1", password: "user1") { token } }'
                },
            )
            token = login.json()["data"]["login"]["token"]
            headers = {"Authorization": f"Bearer {token}"}
            counter = 0

            async def one() -> float:
                nonlocal counter
                counter += 1
                body = {"query": UPDATE, "variables": {"id": str(company.id), "c": f"n{counter}"}}
                start = time.perf_counter()
                response = await http.post("/graphql", json=body, headers=headers)
                elapsed = time.perf_counter() - start
                data = response.json()
                assert data["data"]["companyUpdate"]["errors"] == [], data
                return elapsed

            for _ in range(args.warmup):
                await one()
            conn = Tortoise.get_connection("default")
            postgres = conn.capabilities.dialect == "postgres"

            async def raw(with_event: bool) -> float:
                nonlocal counter
                counter += 1
                mark = (lambda i: f"${i}") if postgres else (lambda i: "?")
                start = time.perf_counter()
                async with conn._in_transaction() as tx:
                    await tx.execute_query(
                        f"UPDATE companies SET comments = {mark(1)}, version = version + 1 "
                        f"WHERE id = {mark(2)}",
                        [f"n{counter}", company.id],
                    )
                    await tx.execute_query(
                        "INSERT INTO audit_log (user_id, username, action, object_type, "
                        f"object_id, changes, request_id, created_at) VALUES ({mark(1)}, "
                        f"'user1', 'UPDATE', 'Company', {mark(2)}, '{{}}', '', CURRENT_TIMESTAMP)",
                        [1, str(company.id)],
                    )
                    if with_event:
                        txid = "txid_current()" if postgres else "0"
                        await tx.execute_query(
                            "INSERT INTO events (txid, object_type, object_id, action, changes, "
                            f"actor_id, created_at, company_id, scope) VALUES ({txid}, "
                            f"'COMPANY', {mark(1)}, 'UPDATE', '{{}}', 1, CURRENT_TIMESTAMP, "
                            f"{mark(2)}, '{{}}')",
                            [company.id, company.id],
                        )
                return time.perf_counter() - start

            for _ in range(args.rounds):
                for mode in ("with", "without"):
                    events.record = real_record if mode == "with" else skip  # type: ignore[assignment]
                    for _ in range(args.per_round):
                        results[mode].append(await one())
                    events.record = real_record  # type: ignore[assignment]
                    for _ in range(args.per_round):
                        results[f"raw_{mode}"].append(await raw(mode == "with"))
    await Tortoise.close_connections()
    return {
        name: {
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p95_ms": round(statistics.quantiles(values, n=20)[18] * 1000, 2),
            "n": len(values),
        }
        for name, values in results.items()
    }


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    os.environ["CRM_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("CRM_MAIL_WORKERS", "0")
    os.environ.setdefault("CRM_LOG_LEVEL", "warning")
    os.environ.setdefault("CRM_ARGON2_FAST", "1")
    created = ""
    if args.database_url:
        admin, name = _admin_url(args.database_url)
        _psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
        _psql(admin, f'CREATE DATABASE "{name}"')
        created = name
        os.environ["CRM_DATABASE_URL"] = args.database_url
    else:
        os.environ["CRM_DATABASE_URL"] = f"sqlite://{tmp / 'bench.sqlite3'}"
    try:
        figures = asyncio.run(run(args))
    finally:
        if created:
            _psql(_admin_url(args.database_url)[0], f'DROP DATABASE IF EXISTS "{created}"')
    with_p50, without_p50 = figures["with"]["p50_ms"], figures["without"]["p50_ms"]
    figures["overhead_p50_percent"] = round((with_p50 / without_p50 - 1) * 100, 1)
    figures["load"] = os.getloadavg()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
