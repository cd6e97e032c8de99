"""Benchmark: the dashboard query (companies → contracts → related invoices → lines),
GraphQL vs one raw SQL statement.

    .venv/bin/python bench/dashboard.py [--companies 10000] [--contracts 50000]
        [--invoices 200000] [--lines 3] [--database-url URL] [--requests 200]
        [--warmup 30] [--viewers admin,manager] [--uvicorn] [--workers 1]
        [--clients 16] [--tune-gc] [--breakdown] [--baseline-only]

Generates the companies of `bench/companies_query.py` (a tree with managers inside and
outside the viewer's company, paths filled by `fill_missing_paths`; no contacts nor
custom fields here), then contracts (3 to 6 per company at the default ratio, about
one in ten private), invoices of the contracts' companies (1 to 5 lines each, a 21% tax,
totals and company billing consistent with the lines) and contract↔invoice links (each
contract related to 1 to 9 invoices of its own company), all with bulk inserts (COPY
on PostgreSQL, executemany on SQLite) straight into the database. Then, for each viewer
(a superadmin, and a non-superadmin CRM manager), it measures

    companies(first: 20) { edges { node { name billing { currency amount }
      contracts(first: 5) { edges {
      node { reference relatedInvoices(first: 5) { edges { node { billId total
      lines { concept amount } } } } } } } } } }

over HTTP against `create_app()`: one client at a time in process (httpx.ASGITransport,
statements counted), and with --uvicorn through a real uvicorn in a subprocess, at one
client and at --clients concurrent clients (p50, p99, requests/s). Next to it, a
baseline: one hand-written SQL statement building the same JSON (nested json_agg /
json_build_object on PostgreSQL, json_group_array / json_object on SQLite) with the same
visibility rule (SPEC §2 and the private contract flag), order and per-parent limits,
served by a bare Starlette endpoint on the same connection pool. The baseline's JSON is
checked equal to the GraphQL response's `data` before anything is timed. Last, the
invoice statistics queries over the whole set are timed, when the schema has them.

--baseline-only generates the data and times only the baseline (while the GraphQL fields
are not there yet).

SQLite by default (a temporary file). With a PostgreSQL URL
(postgres://postgres@127.0.0.1:5432/<db>) the database is created, and dropped at the end
unless --keep (which also keeps the SQLite file)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import executor_client, interleaved, interleaved_concurrent, summary  # noqa: E402
from bench.companies_query import (  # noqa: E402
    SQL_FILE_ENV,
    TUNE_GC_ENV,
    create_postgres_database,
    drop_postgres_database,
    is_postgres,
    login,
    machine,
    raw_app,
    tune_gc,
    uvicorn_app,
)
from bench.companies_query import _visible as visible_company_sql  # noqa: E402
from bench.companies_query import generate as generate_companies  # noqa: E402

__all__ = ["uvicorn_app"]  # served by uvicorn --factory bench.dashboard:uvicorn_app

QUERY = """query Dashboard { companies(first: 20) { edges { node { name
  billing { currency amount }
  contracts(first: 5) { edges { node { reference
    relatedInvoices(first: 5) { edges { node { billId total
      lines { concept amount } } } } } } } } } } }"""

# The orders the API lists them in (the baseline must use the same): companies by name;
# a company's contracts newest first (crm_graphql.dataloaders.contracts); a contract's
# related invoices by invoice id, newest first; lines in position order.
COMPANY_ORDER = "{a}.name, {a}.id"
CONTRACT_ORDER = "{a}.date_begin DESC, {a}.id DESC"
INVOICE_ORDER = "{a}.id DESC"
LINE_ORDER = "{a}.position, {a}.id"

# Invoice statistics queries timed over the whole set, when the schema has them:
# label → (root field, query).
_AMOUNTS = "amounts { currency count base total }"
STATISTICS_QUERIES: dict[str, tuple[str, str]] = {
    "invoiceTotals": ("invoiceTotals", "{ invoiceTotals { currency count base total } }"),
    "totalsPerCurrency": (
        "invoiceStatistics",
        "{ invoiceStatistics { totalsPerCurrency { currency count base total } } }",
    ),
    "billingPerMonth": (
        "invoiceStatistics",
        f"{{ invoiceStatistics {{ billingPerMonth {{ month {_AMOUNTS} }} }} }}",
    ),
    "billingPerCompany": (
        "invoiceStatistics",
        f"{{ invoiceStatistics {{ billingPerCompany {{ company {{ name }} {_AMOUNTS} }} }} }}",
    ),
    "billingPerManager": (
        "invoiceStatistics",
        f"{{ invoiceStatistics {{ billingPerManager {{ manager {{ username }} {_AMOUNTS} }} }} }}",
    ),
    "all four statistics": (
        "invoiceStatistics",
        f"""{{ invoiceStatistics {{ totalsPerCurrency {{ currency count base total }}
          billingPerMonth {{ month {_AMOUNTS} }}
          billingPerCompany {{ company {{ name }} {_AMOUNTS} }}
          billingPerManager {{ manager {{ username }} {_AMOUNTS} }} }} }}""",
    ),
}


# ---------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=10_000, help="companies to generate")
    parser.add_argument("--contracts", type=int, default=50_000, help="contracts in all")
    parser.add_argument("--invoices", type=int, default=200_000, help="invoices in all")
    parser.add_argument("--lines", type=int, default=3, help="lines per invoice on average")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per server")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (uvicorn)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--viewers", default="admin,manager", help="admin, manager or both")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (PostgreSQL, or the SQLite file)"
    )
    parser.add_argument("--uvicorn", action="store_true", help="also measure through uvicorn")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="in process: SQL replayed, graphql-core alone over dicts, the baseline's SQL",
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="generate and time only the raw SQL"
    )
    parser.add_argument(
        "--executor-too",
        action="store_true",
        help="also measure with CRM_COMPILED_READS=0 (every operation on the executor)",
    )
    parser.add_argument(
        "--tune-gc",
        action="store_true",
        help="gc.freeze() after start-up and a higher gen-0 threshold (as the app's lifespan)",
    )
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------
# Data


def spread(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, exactly (cumulative rounding)."""
    whole = sum(weights) or 1
    out, done, acc = [], 0, 0
    for w in weights:
        acc += w
        upto = total * acc // whole
        out.append(upto - done)
        done = upto
    return out


def mix(i: int) -> int:
    """A cheap deterministic scramble, so counts do not follow the tree's id pattern."""
    return ((i * 2654435761) >> 11) & 0xFFFF


async def insert(conn: Any, postgres: bool, table: str, columns: str, rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL (asyncpg), executemany in chunks on SQLite."""
    names = [c.strip() for c in columns.split(",")]
    if postgres:
        await conn._connection.copy_records_to_table(table, records=rows, columns=names)
        return
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
    for start in range(0, len(rows), 10_000):
        await conn.execute_many(sql, rows[start : start + 10_000])


async def generate(args: argparse.Namespace, postgres: bool) -> dict[str, Any]:
    from tortoise import Tortoise, timezone
    from tortoise.transactions import in_transaction

    world = await generate_companies(args.companies, 0, 0)
    conn = Tortoise.get_connection("default")

    async def next_id(table: str) -> int:
        rows = await conn.execute_query_dict(f"SELECT COALESCE(MAX(id), 0) AS m FROM {table}")
        return int(rows[0]["m"]) + 1

    companies = [
        r["id"]
        for r in await conn.execute_query_dict(
            "SELECT id FROM companies WHERE parent_id IS NOT NULL AND name LIKE 'Company %' "
            "ORDER BY id"
        )
    ]
    now = timezone.now()
    zero: Any = Decimal("0") if postgres else "0"
    start = date(2021, 1, 4)

    # contracts: 3, 5, 5, 6 or 6 parts per company (5 on average), scaled to --contracts
    weights = [(3, 5, 5, 6, 6)[mix(i) % 5] for i in range(len(companies))]
    per_company = spread(args.contracts, weights)
    contract_id = await next_id("contracts")
    contracts: list[tuple] = []
    contracts_of: dict[int, list[int]] = {}
    for cid, count in zip(companies, per_company, strict=True):
        ids = contracts_of[cid] = []
        for t in range(count):
            begin = start + timedelta(days=(contract_id * 7) % 1400)
            contracts.append(
                (
                    contract_id,
                    cid,
                    # unique per company, and the reference order is not the id order
                    f"Contract {(t * 7 + cid) % 97:02d}-{t} of {cid}",
                    f"K{contract_id:07d}",
                    "",
                    begin,
                    begin + timedelta(days=365) if contract_id % 4 else None,
                    ("ACTIVE", "ACTIVE", "ACTIVE", "INACTIVE", "PENDING")[contract_id % 5],
                    contract_id % 10 == 3,
                    now,
                    now,
                    1,
                )
            )
            ids.append(contract_id)
            contract_id += 1

    # invoices: in proportion to a company's contracts (one share more, so companies
    # without contracts bill too); 1 to 2*lines-1 lines each
    invoice_weights = [len(contracts_of[cid]) * 4 + 1 for cid in companies]
    invoice_counts = spread(args.invoices, invoice_weights)
    invoice_id = await next_id("invoices")
    invoices: list[tuple] = []
    lines: list[tuple] = []
    taxes: list[tuple] = []
    links: list[tuple] = []
    billing: dict[tuple[int, str], int] = {}
    width = max(1, 2 * args.lines - 1)
    for cid, count in zip(companies, invoice_counts, strict=True):
        ids = []
        for _ in range(count):
            n_lines = 1 + (invoice_id * 7) % width
            amounts = [100 + (invoice_id * 31 + j * 977) % 250_000 for j in range(n_lines)]
            for j, amount in enumerate(amounts):
                concept = f"Service {(invoice_id + j * 13) % 211} ({j + 1}/{n_lines})"
                lines.append((invoice_id, j, concept, amount))
            base = sum(amounts)
            total = base + (base * 21 + 50) // 100  # 21% tax, half up
            issued = start + timedelta(days=(invoice_id * 3) % 1400)
            kind = "RECEIVED" if invoice_id % 5 == 4 else "SUBMITTED"
            invoices.append(
                (
                    invoice_id,
                    cid,
                    kind,
                    f"B{invoice_id:07d}",
                    "",
                    ("PAID", "PAID", "PENDING", "CANCELED")[invoice_id % 4],
                    issued,
                    issued + timedelta(days=30),
                    "en",
                    "USD" if invoice_id % 10 == 7 else "EUR",
                    "",
                    zero,
                    "",
                    zero,
                    "",
                    "",
                    kind == "SUBMITTED",
                    base,
                    total,
                    now,
                    now,
                    1,
                )
            )
            taxes.append((invoice_id, 0, "VAT", Decimal("21") if postgres else "21"))
            # what the invoicing service keeps: non-canceled Submitted invoices' bases,
            # per currency
            currency = "USD" if invoice_id % 10 == 7 else "EUR"
            if kind == "SUBMITTED" and invoice_id % 4 != 3:
                billing[(cid, currency)] = billing.get((cid, currency), 0) + base
            ids.append(invoice_id)
            invoice_id += 1
        # each contract related to 1 to 9 invoices of its company (some shared)
        for t, k in enumerate(contracts_of[cid]):
            if not ids:
                break
            related = min(len(ids), (1, 3, 5, 7, 9)[mix(k) % 5])
            first = (t * 3) % len(ids)
            for s in range(related):
                links.append((k, ids[(first + s) % len(ids)]))

    async with in_transaction() as tx:
        await insert(
            tx,
            postgres,
            "contracts",
            "id, company_id, reference, number, description, date_begin, date_end, status,"
            " private, created_at, updated_at, version",
            contracts,
        )
        await insert(
            tx,
            postgres,
            "invoices",
            "id, company_id, kind, bill_id, reference, status, issued_on, expires_on,"
            " language, currency, discount_concept, discount_percent, retention_concept,"
            " retention_percent, description, internal_note, locked, base_cents,"
            " total_cents, created_at, updated_at, version",
            invoices,
        )
        await insert(
            tx, postgres, "invoice_lines", "invoice_id, position, concept, amount_cents", lines
        )
        await insert(tx, postgres, "invoice_taxes", "invoice_id, position, name, percent", taxes)
        await insert(tx, postgres, "contract_invoices", "contract_id, invoice_id", links)
        await insert(
            tx,
            postgres,
            "company_billings",
            "company_id, currency, cents",
            [(cid, currency, cents) for (cid, currency), cents in sorted(billing.items())],
        )
        if postgres:
            for table in ("contracts", "invoices"):
                await tx.execute_script(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
    # PostgreSQL: as after autovacuum (visibility map set, statistics fresh)
    await conn.execute_script("VACUUM ANALYZE" if postgres else "ANALYZE")
    world["counts"] = {
        "companies": len(companies),
        "contracts": len(contracts),
        "private contracts": sum(1 for c in contracts if c[8]),
        "invoices": len(invoices),
        "lines": len(lines),
        "contract-invoice links": len(links),
    }
    return world


# ---------------------------------------------------------------------------------------
# The raw-SQL baseline: one statement that builds the whole response


def _contract_visible(viewer: dict[str, Any]) -> str:
    """The private flag (SPEC §2.5) over the page's company p: a private contract only
    for the manager of its company and users of the same company as that manager."""
    if viewer["superadmin"]:
        return "1=1"
    me, own = int(viewer["id"]), int(viewer["company_id"])
    return (
        f"(NOT k.private OR p.manager_id = {me} OR p.manager_id IN "
        f"(SELECT u.id FROM users u WHERE u.company_id = {own}))"
    )


def _invoice_visible(viewer: dict[str, Any]) -> str:
    """An invoice belongs to a company the viewer can see (the viewer holds IR)."""
    if viewer["superadmin"]:
        return "1=1"
    return (
        "EXISTS (SELECT 1 FROM companies ic WHERE ic.id = i.company_id AND "
        f"{visible_company_sql('ic', viewer)})"
    )


def _money(column: str, postgres: bool) -> str:
    """Cents as the API's Decimal text ("1234.50")."""
    if postgres:
        return f"({column} / 100.0)::numeric(20, 2)::text"
    return (
        f"printf('%s%d.%02d', CASE WHEN {column} < 0 THEN '-' ELSE '' END, "
        f"abs({column}) / 100, abs({column}) % 100)"
    )


def raw_sql(viewer: dict[str, Any], postgres: bool) -> str:
    visible_c = visible_company_sql("c", viewer)
    contract_ok = _contract_visible(viewer)
    invoice_ok = _invoice_visible(viewer)
    company_order = COMPANY_ORDER.format(a="c")
    if postgres:
        return f"""
WITH page AS (
  SELECT c.id, c.name, c.manager_id FROM companies c
  WHERE {visible_c} ORDER BY {company_order} LIMIT 20
)
SELECT json_build_object('data', json_build_object('companies', json_build_object('edges',
  COALESCE(json_agg(json_build_object('node', json_build_object(
    'name', p.name,
    'billing', (SELECT COALESCE(json_agg(json_build_object(
                  'currency', b.currency, 'amount', {_money("b.cents", True)})
                ORDER BY b.currency), '[]')
                FROM company_billings b WHERE b.company_id = p.id),
    'contracts', json_build_object('edges', (
      SELECT COALESCE(json_agg(json_build_object('node', json_build_object(
        'reference', k.reference,
        'relatedInvoices', json_build_object('edges', (
          SELECT COALESCE(json_agg(json_build_object('node', json_build_object(
            'billId', i.bill_id,
            'total', {_money("i.total_cents", True)},
            'lines', (
              SELECT COALESCE(json_agg(json_build_object(
                       'concept', l.concept, 'amount', {_money("l.amount_cents", True)})
                     ORDER BY {LINE_ORDER.format(a="l")}), '[]')
              FROM invoice_lines l WHERE l.invoice_id = i.id)
          )) ORDER BY {INVOICE_ORDER.format(a="i")}), '[]')
          FROM (SELECT i.id, i.bill_id, i.total_cents FROM contract_invoices ci
                JOIN invoices i ON i.id = ci.invoice_id
                WHERE ci.contract_id = k.id AND {invoice_ok}
                ORDER BY {INVOICE_ORDER.format(a="i")} LIMIT 5) i))
      )) ORDER BY {CONTRACT_ORDER.format(a="k")}), '[]')
      FROM (SELECT k.id, k.reference, k.date_begin FROM contracts k
            WHERE k.company_id = p.id AND {contract_ok}
            ORDER BY {CONTRACT_ORDER.format(a="k")} LIMIT 5) k))
  )) ORDER BY {COMPANY_ORDER.format(a="p")}), '[]'))))::text AS body
FROM page p"""
    # SQLite 3.40: no ORDER BY inside aggregates (json_group_array over an ordered
    # subquery keeps its order), and the nested form above overflows its parser stack:
    # the same statement as CTEs, one per level (per-parent limits with ROW_NUMBER), each
    # building its nodes' JSON text; json() keeps nested values JSON, not text.
    return f"""
WITH p AS MATERIALIZED (
  SELECT c.id, c.name, c.manager_id FROM companies c
  WHERE {visible_c} ORDER BY {company_order} LIMIT 20
), k AS MATERIALIZED (
  SELECT * FROM (
    SELECT k.id, k.company_id, k.reference, ROW_NUMBER() OVER (
             PARTITION BY k.company_id ORDER BY {CONTRACT_ORDER.format(a="k")}) AS rn
    FROM p CROSS JOIN contracts k ON k.company_id = p.id
    WHERE {contract_ok}) WHERE rn <= 5
), i AS MATERIALIZED (
  SELECT * FROM (
    SELECT ci.contract_id, i.id, i.bill_id, i.total_cents, ROW_NUMBER() OVER (
             PARTITION BY ci.contract_id ORDER BY {INVOICE_ORDER.format(a="i")}) AS rn
    FROM contract_invoices ci JOIN invoices i ON i.id = ci.invoice_id
    WHERE ci.contract_id IN (SELECT id FROM k) AND {invoice_ok}) WHERE rn <= 5
), inode AS MATERIALIZED (
  SELECT i.contract_id, i.rn, json_object(
    'billId', i.bill_id,
    'total', {_money("i.total_cents", False)},
    'lines', json((
      SELECT json_group_array(json_object('concept', l.concept, 'amount', l.amount))
      FROM (SELECT l.concept, {_money("l.amount_cents", False)} AS amount
            FROM invoice_lines l WHERE l.invoice_id = i.id
            ORDER BY {LINE_ORDER.format(a="l")}) l))) AS node
  FROM i
), knode AS MATERIALIZED (
  SELECT k.company_id, k.rn, json_object(
    'reference', k.reference,
    'relatedInvoices', json_object('edges', json((
      SELECT json_group_array(json_object('node', json(x.node)))
      FROM (SELECT node FROM inode WHERE inode.contract_id = k.id ORDER BY rn) x)))) AS node
  FROM k
), pnode AS MATERIALIZED (
  SELECT p.name, p.id, json_object(
    'name', p.name,
    'billing', json((
      SELECT json_group_array(json_object('currency', b.currency, 'amount', b.amount))
      FROM (SELECT b.currency, {_money("b.cents", False)} AS amount FROM company_billings b
            WHERE b.company_id = p.id ORDER BY b.currency) b)),
    'contracts', json_object('edges', json((
      SELECT json_group_array(json_object('node', json(x.node)))
      FROM (SELECT node FROM knode WHERE knode.company_id = p.id ORDER BY rn) x)))) AS node
  FROM p
)
SELECT json_object('data', json_object('companies', json_object('edges', json(COALESCE((
  SELECT json_group_array(json_object('node', json(x.node)))
  FROM (SELECT node FROM pnode ORDER BY {COMPANY_ORDER.format(a="pnode")}) x
), '[]'))))) AS body"""


# ---------------------------------------------------------------------------------------
# Measuring


async def sequential(request: Callable[[], Awaitable[Any]], warmup: int, n: int) -> dict:
    for _ in range(warmup):
        await request()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await request()
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def shape(data: dict[str, Any]) -> dict[str, int]:
    """How many objects of each level the response holds."""
    companies = [e["node"] for e in data["companies"]["edges"]]
    contracts = [e["node"] for c in companies for e in c["contracts"]["edges"]]
    invoices = [e["node"] for k in contracts for e in k["relatedInvoices"]["edges"]]
    lines = [line for i in invoices for line in i["lines"]]
    # companies, edges; per company node, name, billing, contracts, edges; per contract
    # node, reference, relatedInvoices, edges; per invoice node, billId, total, lines;
    # per line concept, amount
    amounts = sum(len(c["billing"] or []) for c in companies)
    fields = (
        2
        + 5 * len(companies)
        + 2 * amounts
        + 4 * len(contracts)
        + 4 * len(invoices)
        + 2 * len(lines)
    )
    return {
        "companies": len(companies),
        "contracts": len(contracts),
        "invoices": len(invoices),
        "lines": len(lines),
        "fields": fields,
    }


async def measure_servers(
    gql_client: Any,
    raw_client: Any,
    tokens: dict[str, str],
    viewers: list[str],
    args: argparse.Namespace,
    label: str,
    results: list[dict[str, Any]],
    in_process: bool,
) -> None:
    import orjson

    from crm_graphql.services.sqlcount import count_statements

    body = {"query": QUERY, "operationName": "Dashboard"}
    for viewer in viewers:
        headers = {"Authorization": f"Bearer {tokens[viewer]}"}

        async def gql(headers: dict[str, str] = headers) -> bytes:
            response = await gql_client.post("/graphql", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return response.content

        async def raw(viewer: str = viewer) -> bytes:
            response = await raw_client.post(f"/raw/{viewer}")
            assert response.status_code == 200, response.text
            return response.content

        statements = {"graphql": "", "raw": ""}
        raw_body = orjson.loads(await raw())
        if args.baseline_only:
            gql_body = None
        else:
            await gql()
            if in_process:
                with count_statements() as seen:
                    gql_body = orjson.loads(await gql())
                statements["graphql"] = str(len(seen))
            else:
                gql_body = orjson.loads(await gql())
            assert "errors" not in gql_body, str(gql_body)[:2000]
            if gql_body["data"] != raw_body["data"]:
                for name, body_ in (("graphql", gql_body), ("raw", raw_body)):
                    dump = Path(f"/tmp/dashboard-{viewer}-{name}.json")
                    await asyncio.to_thread(dump.write_bytes, orjson.dumps(body_))
                raise SystemExit(
                    f"{viewer}: the baseline's JSON differs from GraphQL's "
                    f"(both written to /tmp/dashboard-{viewer}-*.json)"
                )
        if in_process:
            with count_statements() as seen:
                await raw()
            statements["raw"] = str(len(seen))
        figures: dict[str, Any] = {}
        calls = {"raw": raw} if args.baseline_only else {"graphql": gql, "raw": raw}
        gc.collect()
        figures.update(await interleaved(calls, args.warmup, args.requests))
        if not in_process:
            gc.collect()
            loaded = await interleaved_concurrent(
                calls, args.clients, args.warmup, args.requests * 2
            )
            figures.update({f"{name}_c{args.clients}": v for name, v in loaded.items()})
        result = {
            "server": label,
            "viewer": viewer,
            "statements": statements,
            "bytes": len(orjson.dumps(raw_body)),
            "shape": shape(raw_body["data"]),
            **figures,
        }
        results.append(result)
        print_result(result, args)


def print_result(r: dict[str, Any], args: argparse.Namespace) -> None:
    raw = r["raw"]
    text = f"  {r['server']:10} {r['viewer']:8} "
    if "graphql" in r:
        g = r["graphql"]
        text += f"GraphQL p50 {g['p50']:7.1f} ms p99 {g['p99']:7.1f} | "
    text += f"raw p50 {raw['p50']:6.1f} ms p99 {raw['p99']:6.1f}"
    if "graphql" in r:
        text += f" | ratio p50 {r['graphql']['p50'] / raw['p50']:5.1f}x"
    text += f" | statements {r['statements']['graphql'] or '-'} vs {r['statements']['raw'] or '-'}"
    print(text, flush=True)
    key = f"raw_c{args.clients}"
    if key in r:
        text = f"  {'':10} {'':8} {args.clients} clients: "
        gkey = f"graphql_c{args.clients}"
        if gkey in r:
            g = r[gkey]
            text += f"GraphQL p50 {g['p50']:7.1f} ms p99 {g['p99']:7.1f} {g['rps']:6.1f} req/s | "
        c = r[key]
        text += f"raw p50 {c['p50']:6.1f} ms p99 {c['p99']:6.1f} {c['rps']:6.1f} req/s"
        print(text, flush=True)
    print(f"  {'':10} {'':8} shape {r['shape']}, {r['bytes']} bytes", flush=True)


async def measure_statistics(client: Any, tokens: dict[str, str], viewers: list[str]) -> list:
    """The invoice statistics queries over the whole set, when the schema has them."""
    schema = (ROOT / "schema.graphql").read_text()
    out = []
    for label, (field, query) in STATISTICS_QUERIES.items():
        if f"  {field}(" not in schema and f"  {field}:" not in schema:
            print(f"  statistics: {field} is not in schema.graphql", flush=True)
            continue
        for viewer in viewers:
            headers = {"Authorization": f"Bearer {tokens[viewer]}"}

            async def call(headers: dict[str, str] = headers, query: str = query) -> None:
                response = await client.post("/graphql", json={"query": query}, headers=headers)
                body = response.json()
                assert response.status_code == 200 and "errors" not in body, response.text

            figures = await sequential(call, 3, 20)
            out.append({"query": label, "viewer": viewer, **figures})
            print(
                f"  statistics {label:20} {viewer:8} p50 {figures['p50']:7.1f} ms "
                f"p99 {figures['p99']:7.1f} ms",
                flush=True,
            )
    return out


# ---------------------------------------------------------------------------------------
# Where the time goes (--breakdown)

SDL = """
type Query { companies(first: Int): CompanyConnection! }
type CompanyConnection { edges: [CompanyEdge!]! }
type CompanyEdge { node: Company! }
type Company { name: String! billing: [Amount!] contracts(first: Int): ContractConnection! }
type Amount { currency: String! amount: String! }
type ContractConnection { edges: [ContractEdge!]! }
type ContractEdge { node: Contract! }
type Contract { reference: String! relatedInvoices(first: Int): InvoiceConnection! }
type InvoiceConnection { edges: [InvoiceEdge!]! }
type InvoiceEdge { node: Invoice! }
type Invoice { billId: String! total: String! lines: [Line!]! }
type Line { concept: String! amount: String! }
"""


class _Recorder:
    """Records (statement, parameters) as Tortoise logs them."""

    def __init__(self) -> None:
        import logging

        self.logger = logging.getLogger("tortoise.db_client")
        self.seen: list[tuple[str, list[Any]]] = []
        recorder = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                args = record.args if isinstance(record.args, tuple) else ()
                if len(args) == 2 and str(args[0]).lstrip().upper().startswith(
                    ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE")
                ):
                    recorder.seen.append((str(args[0]), list(args[1] or [])))

        self.handler = Handler(level=logging.DEBUG)

    def __enter__(self) -> _Recorder:
        import logging

        self.level, self.propagate = self.logger.level, self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.logger.propagate = self.propagate


async def breakdown(
    client: Any, raw_client: Any, tokens: dict[str, str], viewer: str, raw_sql_text: str
) -> dict:
    """In process: the GraphQL request's own statements replayed one after the other;
    graphql-core alone completing the same response over finished dicts (a schema of
    just these types, default resolvers) plus orjson; the baseline's statement alone."""
    import graphql
    import orjson
    from tortoise import Tortoise

    body = {"query": QUERY, "operationName": "Dashboard"}
    headers = {"Authorization": f"Bearer {tokens[viewer]}"}
    await client.post("/graphql", json=body, headers=headers)
    with _Recorder() as recorder:
        await client.post("/graphql", json=body, headers=headers)
    conn = Tortoise.get_connection("default")
    statements = [(q, v) for q, v in recorder.seen if not q.lstrip().upper().startswith("UPDATE")]

    async def replay() -> None:
        for query, values in statements:
            await conn.execute_query(query, values)

    data = orjson.loads((await raw_client.post(f"/raw/{viewer}")).content)["data"]
    schema = graphql.build_schema(SDL)
    document = graphql.parse(QUERY)
    errors = graphql.validate(schema, document)
    assert not errors, errors

    async def complete() -> None:
        result = graphql.execute(schema, document, root_value=data)
        assert not isinstance(result, Awaitable) and not result.errors
        orjson.dumps({"data": result.data})

    async def baseline_sql() -> None:
        await conn.execute_query_dict(raw_sql_text)

    out = {
        "viewer": viewer,
        "statements": len(statements),
        "sql replayed": await sequential(replay, 5, 50),
        "graphql-core + orjson over dicts": await sequential(complete, 5, 50),
        "baseline statement alone": await sequential(baseline_sql, 5, 50),
    }
    for name, figures in out.items():
        if isinstance(figures, dict):
            print(f"  breakdown {viewer:8} {name:34} p50 {figures['p50']:6.1f} ms", flush=True)
    slowest = []
    for query, values in statements:
        started = time.perf_counter()
        for _ in range(10):
            await conn.execute_query(query, values)
        slowest.append(((time.perf_counter() - started) * 100, query))
    for ms, query in sorted(slowest, reverse=True):
        print(f"    {ms:5.2f} ms  {query[:90]}", flush=True)
    out["each statement (ms, SQL)"] = sorted(slowest, reverse=True)
    return out


async def run_uvicorn(
    args: argparse.Namespace,
    env: dict[str, str],
    tokens: dict[str, str],
    viewers: list[str],
    results: list[dict[str, Any]],
) -> None:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.dashboard:uvicorn_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: ASYNC220
    try:
        limits = httpx.Limits(max_connections=args.clients * 2)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as http:
            for _ in range(200):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            label = "uvicorn" if args.workers == 1 else f"uvicorn x{args.workers}"
            if env.get("CRM_COMPILED_READS") == "0":
                label += " exec"
            await measure_servers(http, http, tokens, viewers, args, label, results, False)
    finally:
        server.terminate()
        server.wait(timeout=20)


def markdown(results: list[dict[str, Any]], postgres: bool, clients: int) -> str:
    """The rows for bench/README.md."""
    database = "PostgreSQL" if postgres else "SQLite"
    rows = []
    for r in results:
        g, raw = r.get("graphql"), r["raw"]
        gc16, rc16 = r.get(f"graphql_c{clients}"), r.get(f"raw_c{clients}")
        cells = [
            database,
            r["server"],
            r["viewer"],
            f"{g['p50']:.1f}" if g else "",
            f"{g['p99']:.1f}" if g else "",
            f"{raw['p50']:.1f}",
            f"{raw['p99']:.1f}",
            f"{g['p50'] / raw['p50']:.2f}\N{MULTIPLICATION SIGN}" if g else "",
            f"{gc16['p50']:.0f} / {gc16['p99']:.0f} / {gc16['rps']:.1f}" if gc16 else "",
            f"{rc16['p50']:.0f} / {rc16['p99']:.0f} / {rc16['rps']:.0f}" if rc16 else "",
            f"{r['statements']['graphql']} vs {r['statements']['raw']}"
            if r["statements"]["raw"]
            else "",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> None:
    import httpx

    from crm_graphql.app import create_app
    from crm_graphql.services.database import apply_migrations
    from crm_graphql.settings import Settings, tortoise_config

    config = Settings.from_env()
    postgres = is_postgres(config.database_url)
    await apply_migrations(tortoise_config(config.database_url))
    app = create_app(config)
    viewers = [v.strip() for v in args.viewers.split(",") if v.strip()]
    results: list[dict[str, Any]] = []
    stats: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    async with app.router.lifespan_context(app):
        started = time.perf_counter()
        world = await generate(args, postgres)
        generated = time.perf_counter() - started
        print(
            f"{'PostgreSQL' if postgres else 'SQLite'}: {world['counts']}, "
            f"generated in {generated:.1f} s",
            flush=True,
        )
        sql_by_viewer = {v: raw_sql(world[v], postgres) for v in viewers}
        if args.tune_gc:
            tune_gc()
        raw = raw_app(sql_by_viewer)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        raw_transport = httpx.ASGITransport(app=raw)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client,
            httpx.AsyncClient(transport=raw_transport, base_url="http://bench") as raw_client,
        ):
            tokens = {v: await login(client, world[v]["username"]) for v in viewers}
            label = "in-process" if config.compiled_reads else "in-proc exec"
            await measure_servers(client, raw_client, tokens, viewers, args, label, results, True)
            if args.executor_too and config.compiled_reads:
                async with executor_client(config) as off:
                    await measure_servers(
                        off, raw_client, tokens, viewers, args, "in-proc exec", results, True
                    )
            sql_file = Path(config.data_dir) / "bench-raw-sql.json"
            sql_file.parent.mkdir(parents=True, exist_ok=True)
            sql_file.write_text(json.dumps(sql_by_viewer))
            if args.breakdown and not args.baseline_only:
                for viewer in viewers:
                    parts.append(
                        await breakdown(client, raw_client, tokens, viewer, sql_by_viewer[viewer])
                    )
            if not args.baseline_only:
                stats = await measure_statistics(client, tokens, viewers)
        if args.uvicorn:
            env = dict(os.environ, **{SQL_FILE_ENV: str(sql_file)})
            if args.tune_gc:
                env[TUNE_GC_ENV] = "1"
            await run_uvicorn(args, env, tokens, viewers, results)
            if args.executor_too and config.compiled_reads:
                env["CRM_COMPILED_READS"] = "0"
                await run_uvicorn(args, env, tokens, viewers, results)
    print(markdown(results, postgres, args.clients))
    report = {
        "machine": machine(),
        "args": vars(args),
        "counts": world["counts"],
        "generated_s": generated,
        "results": results,
        "statistics": stats,
        "breakdown": parts,
    }
    print(json.dumps(report, indent=1))


def entry() -> None:
    args = parse_args()
    temp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    url = args.database_url or f"sqlite://{temp / 'bench.sqlite3'}"
    os.environ["CRM_DATABASE_URL"] = url
    os.environ["CRM_DATA_DIR"] = str(temp / "data")
    os.environ.setdefault("CRM_MODE", "production")
    os.environ.setdefault("CRM_ARGON2_FAST", "1")
    os.environ.setdefault("CRM_LOGIN_MAX_FAILURES", "1000")
    if is_postgres(url):
        asyncio.run(create_postgres_database(url))
    try:
        asyncio.run(main(args))
    finally:
        if is_postgres(url) and not args.keep:
            asyncio.run(drop_postgres_database(url))
        if args.keep and not is_postgres(url):
            print(f"kept {url}", flush=True)
        else:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    entry()
