"""Benchmark: duplicate detection over many leads, GraphQL (`duplicateCandidates`,
`duplicates`) against the same work written by hand in SQL, in the same run.

    .venv/bin/python bench/duplicates.py [--leads 200000] [--companies 10000] [--runs 7]
        [--viewers admin,manager] --database-url URL

Data: the companies, users and leads of `bench/leads.py` (one `INSERT ... SELECT`),
then one statement gives one lead in ten an e-mail shared with others (about 3 per
address) and one in ten a shared phone number, and fills the matching keys (the
generator writes raw SQL, so the models' own key filling does not run).

Per viewer (`admin` a superadmin, `manager` a CRM manager who is no superadmin: the
lead rule in SQL): p50, p99 and slowest of --runs requests over HTTP in process (after
one warm-up) for the first page of 50 groups and for the candidates of one lead, the
SQL statements each sent, and the baseline: the hand-written statements of the same
result (the access rule written out) timed the same way on the same connection. Before
timing, the GraphQL groups are checked against the baseline's."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.aggregates import lead_rule  # noqa: E402
from bench.companies_query import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    is_postgres,
    login,
    machine,
)
from bench.leads import generate as generate_leads  # noqa: E402
from bench.leads import record, sequential  # noqa: E402

GROUPS = """{ duplicateCandidates(type: LEAD, first: 50) {
  edges { node { rule key size ids } } pageInfo { hasNextPage } } }"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--viewers", default="admin,manager")
    parser.add_argument("--database-url", default="")
    return parser.parse_args(argv)


def duplicates_sql(n: int) -> str:
    """Shared e-mails and phones for one lead in ten each, and the keys of every lead."""
    shared = max(n // 30, 1)
    return (
        "UPDATE leads SET "
        f"email = CASE WHEN id % 10 = 0 THEN 'Dup' || (id / 10 % {shared}) || '@Example.com' "
        "ELSE email END, "
        f"phone = CASE WHEN id % 10 = 5 THEN '+34 6' || lpad(CAST(id / 10 % {shared} AS text), 8, "
        "'0') ELSE phone END; "
        "UPDATE leads SET email_key = lower(trim(email)), "
        "phone_key = regexp_replace(phone, '[^0-9]', '', 'g')"
    )


def baseline(viewer: dict[str, Any]) -> tuple[str, str]:
    """The first page's groups (they are all e-mail groups) and their leads."""
    rule = lead_rule(viewer)
    groups = (
        "SELECT l.email_key AS k, COUNT(*) AS n FROM leads l "
        f"WHERE {rule} AND l.email_key <> '' GROUP BY l.email_key HAVING COUNT(*) > 1 "
        "ORDER BY l.email_key LIMIT 51"
    )
    members = (
        f"SELECT l.* FROM leads l WHERE {rule} AND l.email_key IN "
        f"(SELECT k FROM ({groups}) g) ORDER BY l.id"
    )
    return groups, members


def candidates_baseline(viewer: dict[str, Any], lead: dict[str, Any]) -> str:
    """The leads matching `lead`'s keys (read before), each key column by its index."""
    rule = lead_rule(viewer)
    checks = []
    if lead["email_key"]:
        checks.append(f"l.email_key = '{lead['email_key']}'")
    phones = ", ".join(f"'{k}'" for k in {lead["phone_key"], lead["mobile_key"]} - {""})
    if phones:
        checks.append(f"l.phone_key IN ({phones}) OR l.mobile_key IN ({phones})")
    return (
        f"SELECT l.* FROM leads l WHERE {rule} AND l.id <> {int(lead['id'])} "
        f"AND ({' OR '.join(checks)})"
    )


async def measure(client: Any, token: str, viewer: dict[str, Any], name: str, runs: int) -> list:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    headers = {"Authorization": f"Bearer {token}"}
    found = []

    async def post_groups() -> Any:
        response = await client.post("/graphql", json={"query": GROUPS}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        return body

    body, statements = await record(post_groups)
    groups_sql, members_sql = baseline(viewer)
    rows = await conn.execute_query_dict(groups_sql)
    edges = body["data"]["duplicateCandidates"]["edges"]
    got = [(e["node"]["key"], e["node"]["size"]) for e in edges]
    assert got == [(r["k"], int(r["n"])) for r in rows][:50], (got[:3], rows[:3])
    lead_id = int(edges[0]["node"]["ids"][0])
    one = f'{{ duplicates(type: LEAD, id: "{lead_id}") {{ id rules score }} }}'

    async def post_one() -> Any:
        response = await client.post("/graphql", json={"query": one}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        return body

    one_body, one_statements = await record(post_one)
    keys = await conn.execute_query_dict(
        f"SELECT id, email_key, phone_key, mobile_key FROM leads WHERE id = {lead_id}"
    )
    one_sql = candidates_baseline(viewer, keys[0])
    expected = await conn.execute_query_dict(one_sql)
    assert {c["id"] for c in one_body["data"]["duplicates"]} == {str(r["id"]) for r in expected}

    async def raw_groups() -> None:
        await conn.execute_query(groups_sql)
        await conn.execute_query(members_sql)

    for label, post, statement_count, raw in (
        ("duplicateCandidates(first: 50)", post_groups, len(statements), raw_groups),
        (
            "duplicates(id)",
            post_one,
            len(one_statements),
            lambda: conn.execute_query(one_sql),
        ),
    ):
        graphql = await sequential(post, 1, runs)
        base = await sequential(raw, 1, runs)
        found.append(
            {
                "viewer": name,
                "query": label,
                "statements": statement_count,
                "graphql": graphql,
                "baseline": base,
                "ratio": graphql["p50"] / base["p50"],
            }
        )
        print(json.dumps(found[-1]), flush=True)
    return found


async def main(args: argparse.Namespace) -> None:
    import httpx
    from tortoise import Tortoise

    from crm_graphql.app import create_app
    from crm_graphql.services.database import apply_migrations
    from crm_graphql.settings import Settings, tortoise_config

    config = Settings.from_env()
    assert is_postgres(config.database_url), "this benchmark needs PostgreSQL"
    await apply_migrations(tortoise_config(config.database_url))
    app = create_app(config)
    async with app.router.lifespan_context(app):
        started = time.perf_counter()
        world = await generate_leads(args, True)
        conn = Tortoise.get_connection("default")
        await conn.execute_script(duplicates_sql(args.leads))
        await conn.execute_script("VACUUM ANALYZE leads")
        print(f"generated in {time.perf_counter() - started:.1f} s: {world['counts']}")
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        results = []
        async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=600) as c:
            for name in [v for v in args.viewers.split(",") if v]:
                token = await login(c, world[name]["username"])
                results += await measure(c, token, world[name], name, args.runs)
    print(json.dumps({"machine": machine(), "args": vars(args), "results": results}, indent=1))


def entry() -> None:
    args = parse_args()
    temp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    url = args.database_url
    os.environ["CRM_DATABASE_URL"] = url
    os.environ["CRM_DATA_DIR"] = str(temp / "data")
    os.environ.setdefault("CRM_MAIL_WORKERS", "0")
    asyncio.run(create_postgres_database(url))
    try:
        asyncio.run(main(args))
    finally:
        asyncio.run(drop_postgres_database(url))


if __name__ == "__main__":
    entry()
