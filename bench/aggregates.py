"""Benchmark: two-dimension aggregates with a filter over a million leads and a million
invoices, GraphQL (`leadsAggregate`, `invoicesAggregate`) against the same figures
written by hand in SQL, in the same run.

    .venv/bin/python bench/aggregates.py [--leads 1000000] [--invoices 1000000]
        [--companies 10000] [--runs 7] [--viewers admin,manager] [--database-url URL]

Data: the companies, users and leads of `bench/leads.py` (one `INSERT ... SELECT` over
`generate_series`), then N invoices with one more (company, kind, status, currency,
creation date over three years, base and total spread by a hash of the row number).

Per viewer (`admin` a superadmin, `manager` a CRM manager who is no superadmin: the
company and lead rules in SQL) and aggregate: p50, p99 and slowest of --runs requests over
HTTP in process (after one warm-up), the SQL statements the request sent, and the
baseline: one hand-written statement (the access rule written out, `date_trunc`,
`GROUP BY`) timed the same way on the same connection. Before timing, the GraphQL
groups are checked against the baseline's rows."""

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

from bench.companies_query import _visible as visible_company_sql  # noqa: E402
from bench.companies_query import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    is_postgres,
    login,
    machine,
)
from bench.leads import generate as generate_leads  # noqa: E402
from bench.leads import record, sequential  # noqa: E402

GROUPS = "groups { keys { value } currency values { value } } groupCount"
LEADS = f"""{{ leadsAggregate(filter: {{progress: {{lt: 100}}}},
  groupBy: [{{field: CHANNEL}}, {{field: CREATED_AT, bucket: MONTH}}],
  measures: [{{function: COUNT}}, {{function: SUM, field: ESTIMATED_SALE}}], first: 100)
  {{ {GROUPS} }} }}"""
INVOICES = f"""{{ invoicesAggregate(filter: {{kind: {{eq: SUBMITTED}}}},
  groupBy: [{{field: STATUS}}, {{field: ISSUED_ON, bucket: QUARTER}}],
  measures: [{{function: COUNT}}, {{function: SUM, field: BASE}}], first: 100)
  {{ {GROUPS} }} }}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--viewers", default="admin,manager")
    parser.add_argument("--database-url", default="")
    return parser.parse_args(argv)


def invoices_sql(n: int, companies: int) -> str:
    """N invoices in one statement (PostgreSQL), values spread by a hash of the number."""
    h = "(g * 2654435761 % 4294967296)"
    return (
        "INSERT INTO invoices (company_id, kind, bill_id, reference, status, issued_on, "
        "language, currency, discount_concept, discount_percent, retention_concept, "
        "retention_percent, description, internal_note, locked, base_cents, total_cents, "
        "created_at, updated_at, version, pdf_error, pdf_attempts, pdf_seq) "
        f"SELECT c.id, CASE WHEN {h} % 3 = 0 THEN 'RECEIVED' ELSE 'SUBMITTED' END, "
        "'BENCH-' || g, '', "
        f"(ARRAY['PENDING','PAID','PAID','CANCELED'])[{h} % 4 + 1], "
        f"DATE '2023-01-01' + ({h} % 1095)::int, 'en', "
        f"(ARRAY['EUR','EUR','EUR','USD','GBP'])[{h} / 7 % 5 + 1], '', 0, '', 0, '', '', "
        f"false, 1000 + {h} % 500000, 1210 + {h} % 605000, now(), now(), 1, '', 0, 0 "
        f"FROM generate_series(1, {int(n)}) g "
        f"JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM companies) c "
        f"ON c.k = {h} / 13 % {int(companies)}"
    )


def lead_rule(viewer: dict[str, Any]) -> str:
    """SPEC §7 for the bench's viewers: all for a superadmin; else their own leads, the
    pool, leads owned by colleagues (the manager holds LM) and leads of companies they
    can see."""
    if viewer["superadmin"]:
        return "1=1"
    me, own = int(viewer["id"]), int(viewer["company_id"])
    return (
        f"(l.owner_id = {me} OR (l.owner_id IS NULL AND l.company_id IS NULL) OR "
        f"l.owner_id IN (SELECT u.id FROM users u WHERE u.company_id = {own}) OR "
        f"l.company_id IN (SELECT c.id FROM companies c WHERE {visible_company_sql('c', viewer)}))"
    )


def baselines(viewer: dict[str, Any]) -> dict[str, str]:
    leads = (
        "SELECT l.channel AS k0, CAST(date_trunc('month', l.created_at AT TIME ZONE 'UTC') "
        "AS date) AS k1, l.currency, COUNT(*) AS n, SUM(l.estimated_sale_cents) AS s "
        f"FROM leads l WHERE l.progress < 100 AND {lead_rule(viewer)} "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT 101"
    )
    rule = (
        "1=1"
        if viewer["superadmin"]
        else (
            "i.company_id IN (SELECT c.id FROM companies c "
            f"WHERE {visible_company_sql('c', viewer)})"
        )
    )
    invoices = (
        "SELECT i.status AS k0, CAST(date_trunc('quarter', CAST(i.issued_on AS timestamp)) "
        "AS date) AS k1, i.currency, COUNT(*) AS n, SUM(i.base_cents) AS s "
        f"FROM invoices i WHERE i.kind = 'SUBMITTED' AND {rule} "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT 101"
    )
    return {"leadsAggregate": leads, "invoicesAggregate": invoices}


async def measure(client: Any, token: str, viewer: dict[str, Any], name: str, runs: int) -> list:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    headers = {"Authorization": f"Bearer {token}"}
    found = []
    for field, document in (("leadsAggregate", LEADS), ("invoicesAggregate", INVOICES)):

        async def post(document: str = document) -> Any:
            response = await client.post("/graphql", json={"query": document}, headers=headers)
            body = response.json()
            assert "errors" not in body, body
            return body

        body, statements = await record(post)
        for statement, _ in statements:
            print(f"  {name} {field}: {statement[:150]}", flush=True)
        sql = baselines(viewer)[field]
        rows = await conn.execute_query_dict(sql)
        groups = body["data"][field]["groups"]
        expected = [
            [str(r["k0"]), r["k1"].isoformat(), r["currency"], str(int(r["n"]))] for r in rows
        ][:100]
        got = [
            [*(k["value"] for k in g["keys"]), g["currency"], g["values"][0]["value"]]
            for g in groups
        ]
        assert got == expected, (field, got[:3], expected[:3])
        graphql = await sequential(post, 1, runs)
        raw = await sequential(lambda sql=sql: conn.execute_query(sql), 1, runs)
        found.append(
            {
                "viewer": name,
                "aggregate": field,
                "groups": body["data"][field]["groupCount"],
                "statements": len(statements),
                "graphql": graphql,
                "baseline": raw,
                "ratio": graphql["p50"] / raw["p50"],
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
        await conn.execute_script(invoices_sql(args.invoices, args.companies))
        await conn.execute_script("VACUUM ANALYZE invoices")
        generated = time.perf_counter() - started
        print(f"generated in {generated:.1f} s: {world['counts']}", flush=True)
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
