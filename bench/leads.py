"""Benchmark: lead statistics and the lead pipeline over many leads, GraphQL vs the raw
SQL of the same figures.

    .venv/bin/python bench/leads.py [--leads 1000000] [--companies 10000] [--runs 7]
        [--requests 100] [--viewers admin,manager,seller] [--database-url URL] [--keep]

Generates the companies of `bench/companies_query.py` (a tree with managers inside and
outside the viewers' company, paths by `fill_missing_paths`; no contacts nor custom
fields here), three lead types, 12 tags and a seller, then N leads with ONE
`INSERT ... SELECT` over a generated series (`generate_series` on PostgreSQL, a
recursive CTE on SQLite) and their tags (about 0.9 per lead) with two more: progress,
channel, country, currency, estimated sale, close date, creation time (three years),
owner (one of 44 users, or none for one lead in five) and managing company (one of the
companies, or none for about one in seven) all spread by a multiplicative hash of the
row number, so about 3% of the leads are in the unowned, unmanaged pool.

Then, for each viewer, in process over HTTP (httpx.ASGITransport against create_app()):

- every `leadStatistics` field alone and all of them in one request: p50 and the
  slowest of --runs requests after one warm-up, the request's SQL statements counted,
  those statements replayed alone (p50: the database's share), and a baseline: one
  hand-written statement per figure straight over the leads table with the lead rule
  written out (no `id IN (...)` subquery);
- `leadPipeline` (default order, by last change, and by close date with the closed
  steps): p50 and p99 of --requests sequential requests, statements, and the replay.

Viewers: `admin` (superadmin), `manager` (a CRM manager, not a superadmin, who sees
nearly every lead through the company rule) and `seller` (a standard user in one group
company, who sees that subtree's leads, their own and the pool: a few percent). Before
timing, each GraphQL figure is checked against its baseline's.

SQLite by default (a temporary file). With a PostgreSQL URL
(postgres://postgres@127.0.0.1:5432/<db>) the database is created, and dropped at the end
unless --keep."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.companies_query import (  # noqa: E402
    PASSWORD,
    create_postgres_database,
    drop_postgres_database,
    is_postgres,
    login,
    machine,
    percentile,
)
from bench.companies_query import _visible as visible_company_sql  # noqa: E402
from bench.companies_query import generate as generate_companies  # noqa: E402
from bench.dashboard import _Recorder  # noqa: E402

AMOUNTS = "estimatedSales { currency amount }"
# label -> the leadStatistics selection
STATISTICS: dict[str, str] = {
    "byChannel": f"byChannel {{ channel count {AMOUNTS} }}",
    "conversionRate": "conversionRate",
    "byCountry": f"byCountry {{ country count {AMOUNTS} }}",
    "byOwner": f"byOwner {{ owner {{ username }} count {AMOUNTS} }}",
    "topOpen": "topOpen { id fullName estimatedSale currency owner { username } }",
    "newOverTime DAY": "days: newOverTime(bucket: DAY) { start count }",
    "newOverTime WEEK": "weeks: newOverTime(bucket: WEEK) { start count }",
    "newOverTime MONTH": "months: newOverTime(bucket: MONTH) { start count }",
    "funnel": f"funnel {{ progress {{ code name }} count {AMOUNTS} }}",
}
ALL = "all of them, one request"
PIPELINE = f"""query Pipeline($order: LeadPipelineOrder, $closed: Boolean) {{
  leadPipeline(orderBy: $order, includeClosed: $closed) {{
    progress {{ code name }} count {AMOUNTS} hasMoreLeads
    leads {{ id fullName estimatedSale currency closeDate owner {{ username }} }} }} }}"""
PIPELINES: dict[str, dict[str, Any]] = {
    "ESTIMATED_SALE, open steps": {},
    "UPDATED_AT, open steps": {"order": "UPDATED_AT"},
    "CLOSE_DATE, every step": {"order": "CLOSE_DATE", "closed": True},
}

CHANNELS = ["Web form"] * 3 + ["E-mail"] * 2 + ["Phone"] * 2 + ["Referral", "Event", "Other"]
COUNTRIES = ["Spain", "France", "Germany", "Portugal", "Italy", "Mexico", "Chile", "Peru"]
COUNTRIES += ["United Kingdom", ""]
CURRENCIES = ["EUR"] * 15 + ["USD"] * 4 + ["GBP"]
LANGUAGES = ["es", "en", "fr", "de"]
# progress code by h % 100: 25% new, 15% meeting, ... 8% won
PROGRESS = [(25, 0), (40, 20), (52, 40), (62, 60), (68, 80), (78, 100), (88, 101), (92, 102)]
TAGS = ["hot", "cold", "partner", "tender", "renewal", "upsell"]
TAGS += ["fair 2024", "fair 2025", "vip", "public sector", "smb", "enterprise"]
SECONDS = 3 * 365 * 86400  # creation times over three years
START = "2023-01-01"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads to generate")
    parser.add_argument("--companies", type=int, default=10_000, help="companies to generate")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per statistic")
    parser.add_argument("--requests", type=int, default=100, help="timed pipeline requests")
    parser.add_argument("--viewers", default="admin,manager,seller", help="who asks")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (PostgreSQL, or the SQLite file)"
    )
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------
# Data


def _case(expression: str, values: list[str]) -> str:
    """CASE expression % len(values) WHEN 0 THEN values[0] ... (quoted text)."""
    arms = " ".join(
        f"WHEN {i} THEN '{v.replace(chr(39), chr(39) * 2)}'" for i, v in enumerate(values)
    )
    return f"CASE {expression} % {len(values)} {arms} END"


def _progress(h: str) -> str:
    arms = " ".join(f"WHEN {h} % 100 < {upto} THEN {code}" for upto, code in PROGRESS)
    return f"CASE {arms} ELSE 200 END"


def leads_sql(n: int, postgres: bool, owners: int, companies: int, types: list[int]) -> str:
    """One INSERT ... SELECT of `n` leads; `bench_owner_pick` and `bench_company_pick`
    map k -> an owner / a managing company (or NULL); one lead in four has no type."""
    if postgres:
        series = f"generate_series(1, {n}) AS g(i)"
        hashed = "CAST(g.i AS BIGINT) * 2654435761 % 4294967296"
        close = "DATE '2025-01-01' + CAST(s.h / 31 % 730 AS INTEGER)"
        close_key = "CAST(to_char(d.close_date, 'YYYYMMDD') AS INTEGER)"

        def at(seconds: str) -> str:
            return f"TIMESTAMPTZ '{START} 00:00:00+00' + make_interval(secs => {seconds})"

    else:
        series = (
            f"(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n}) "
            "SELECT i FROM g) AS g"
        )
        hashed = "g.i * 2654435761 % 4294967296"
        close = "date('2025-01-01', '+' || (s.h / 31 % 730) || ' days')"
        close_key = "CAST(strftime('%Y%m%d', d.close_date) AS INTEGER)"

        def at(seconds: str) -> str:
            # the text Tortoise writes for an aware datetime in UTC
            return (
                f"strftime('%Y-%m-%d %H:%M:%S', '{START}', '+' || ({seconds}) || ' seconds')"
                " || '.000000+00:00'"
            )

    created = f"s.h / 43 % {SECONDS}"
    updated = f"{created} + s.h / 47 % {60 * 86400}"
    return f"""
INSERT INTO leads (full_name, email, phone, mobile, position, prospect_company, country,
  language, product, lead_type_id, channel, estimated_sale_cents, currency, close_date,
  close_key, progress, owner_id, company_id, executive_overview, description, alarm_at,
  duplicate, created_at, updated_at, version)
SELECT d.full_name, d.email, '', '', '', d.prospect_company, d.country, d.language,
  d.product, d.lead_type_id, d.channel, d.cents, d.currency, d.close_date,
  COALESCE({close_key}, 99991231), d.progress, d.owner_id, d.company_id, '', '', NULL,
  FALSE, d.created_at, d.updated_at, 1
FROM (
  SELECT 'Lead ' || s.i AS full_name,
    'lead' || s.i || '@example.com' AS email,
    'Prospect ' || (s.h % 5000) AS prospect_company,
    {_case("s.h / 7", COUNTRIES)} AS country,
    {_case("s.h / 3", LANGUAGES)} AS language,
    'Product ' || (s.h / 11 % 20) AS product,
    CASE s.h / 13 % 4 {" ".join(f"WHEN {i + 1} THEN {int(t)}" for i, t in enumerate(types))}
      END AS lead_type_id,
    {_case("s.h / 17", CHANNELS)} AS channel,
    10000 + s.h / 19 % 5000000 AS cents,
    {_case("s.h / 23", CURRENCIES)} AS currency,
    CASE WHEN s.h / 29 % 10 < 7 THEN {close} END AS close_date,
    {_progress("s.h")} AS progress,
    (SELECT p.user_id FROM bench_owner_pick p WHERE p.k = s.h / 37 % {owners}) AS owner_id,
    (SELECT p.company_id FROM bench_company_pick p
     WHERE p.k = s.h / 41 % {companies}) AS company_id,
    {at(created)} AS created_at,
    {at(updated)} AS updated_at
  FROM (SELECT g.i AS i, {hashed} AS h FROM {series}) s
) d"""


async def generate(args: argparse.Namespace, postgres: bool) -> dict[str, Any]:
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from crm_graphql.models.companies import Company
    from crm_graphql.models.leads import LeadTag, LeadType
    from crm_graphql.models.users import Assignment, Group, Profile, User
    from crm_graphql.services.passwords import hash_password_async

    world = await generate_companies(args.companies, 0, 0)
    hq = await Company.get(name="Bench HQ")
    # the seller: a standard user (CR, LR, LW) in the first group company under HQ
    team = await Company.filter(parent_id=hq.id).order_by("id").first()
    assert team is not None
    seller = await User.create(
        username="bench_seller",
        password_hash=await hash_password_async(PASSWORD),
        company=team,
    )
    await Assignment.create(
        user=seller,
        profile=await Profile.get(name="Standard user"),
        group=await Group.get(name="All"),
    )
    world["seller"] = {
        "username": "bench_seller",
        "superadmin": False,
        "id": seller.id,
        "company_id": team.id,
        "company_path": (await Company.get(id=team.id)).path,
    }
    types = [(await LeadType.create(name=n)).id for n in ("Software", "Services", "Hardware")]
    for name in TAGS:
        await LeadTag.create(name=name)

    conn = Tortoise.get_connection("default")
    users = [u.id for u in await User.all().order_by("id")]
    owners: list[int | None] = users + [None] * (len(users) // 4)  # one in five unowned
    companies: list[int | None] = [r["id"] for r in await Company.all().order_by("id").values("id")]
    companies += [None] * (len(companies) // 6)  # about one in seven unmanaged
    tags = [t.id for t in await LeadTag.all().order_by("id")]
    async with in_transaction() as tx:
        for table, column, ids in (
            ("bench_owner_pick", "user_id", owners),
            ("bench_company_pick", "company_id", companies),
            ("bench_tag_pick", "tag_id", tags),
        ):
            await tx.execute_script(
                f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, {column} INTEGER)"
            )
            mark = ("$1", "$2") if postgres else ("?", "?")
            await tx.execute_many(
                f"INSERT INTO {table} (k, {column}) VALUES ({mark[0]}, {mark[1]})",
                list(enumerate(ids)),
            )
        started = time.perf_counter()
        await tx.execute_script(leads_sql(args.leads, postgres, len(owners), len(companies), types))
        inserted = time.perf_counter() - started
        # a first tag for 6 leads in 10, a different second one for 3 in 10
        second = "(l.id % 12 + 1 + l.id / 12 % 11) % 12"
        for pick, share in (("l.id % 12", 6), (second, 3)):
            await tx.execute_script(
                "INSERT INTO lead_tag_links (lead_id, tag_id) SELECT l.id, t.tag_id "
                f"FROM leads l JOIN bench_tag_pick t ON t.k = {pick} WHERE l.id % 10 < {share}"
            )
        for table in ("bench_owner_pick", "bench_company_pick", "bench_tag_pick"):
            await tx.execute_script(f"DROP TABLE {table}")
    # PostgreSQL: as after autovacuum (visibility map set, statistics fresh)
    await conn.execute_script("VACUUM ANALYZE" if postgres else "ANALYZE")
    counts = await conn.execute_query_dict(
        "SELECT (SELECT COUNT(*) FROM leads) AS leads, "
        "(SELECT COUNT(*) FROM lead_tag_links) AS tag_links, "
        "(SELECT COUNT(*) FROM companies) AS companies, (SELECT COUNT(*) FROM users) AS users"
    )
    world["counts"] = {k: int(v) for k, v in counts[0].items()}
    world["insert_s"] = inserted
    return world


# ---------------------------------------------------------------------------------------
# The raw-SQL baseline: one statement per figure, straight over the leads table


def lead_rule(viewer: dict[str, Any]) -> str:
    """SPEC §7 written out for the bench's viewers (all hold LR and CR): everything for a
    superadmin; else their own leads, the pool, and leads of companies they can see."""
    if viewer["superadmin"]:
        return "1=1"
    me = int(viewer["id"])
    return (
        f"(l.owner_id = {me} OR (l.owner_id IS NULL AND l.company_id IS NULL) OR "
        f"l.company_id IN (SELECT c.id FROM companies c WHERE {visible_company_sql('c', viewer)}))"
    )


def baseline_sql(label: str, viewer: dict[str, Any], postgres: bool) -> str:
    rule = lead_rule(viewer)
    sums = "l.currency, COUNT(*) AS n, SUM(l.estimated_sale_cents) AS cents"

    def grouped(key: str) -> str:
        return f"SELECT {key} AS k, {sums} FROM leads l WHERE {rule} GROUP BY l.currency, {key}"

    def bucket(unit: str) -> str:
        if postgres:
            return f"CAST(date_trunc('{unit}', l.created_at AT TIME ZONE 'UTC') AS date)"
        return {
            "day": "date(l.created_at)",
            "week": "date(l.created_at, 'weekday 0', '-6 days')",
            "month": "date(l.created_at, 'start of month')",
        }[unit]

    if label.startswith("newOverTime"):
        start = bucket(label.split()[1].lower())
        return (
            f"SELECT {start} AS k, COUNT(*) AS n FROM leads l WHERE {rule} "
            f"GROUP BY {start} ORDER BY k"
        )
    return {
        "byChannel": grouped("l.channel"),
        "conversionRate": f"SELECT COUNT(*) AS n, SUM(CASE WHEN l.progress = 200 THEN 1 "
        f"ELSE 0 END) AS won FROM leads l WHERE {rule}",
        "byCountry": grouped("l.country"),
        "byOwner": grouped("l.owner_id"),
        "topOpen": f"SELECT l.id FROM leads l WHERE {rule} AND l.progress < 100 "
        "ORDER BY l.estimated_sale_cents DESC, l.id LIMIT 10",
        "funnel": grouped("l.progress"),
        "pipeline totals": grouped("l.progress"),
        "pipeline leads": " UNION ALL ".join(
            f"SELECT * FROM (SELECT l.* FROM leads l WHERE {rule} AND l.progress = {step} "
            f"ORDER BY l.estimated_sale_cents DESC, l.id DESC LIMIT 11) p{step}"
            for step in (0, 20, 40, 60, 80)
        ),
    }[label]


def counts_of(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Leads per key, over currencies, from a baseline's GROUP BY rows."""
    found: dict[str, int] = defaultdict(int)
    for row in rows:
        found[str(row["k"] if row["k"] is not None else "")] += int(row["n"])
    return dict(found)


def check(label: str, data: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The GraphQL figure equals the baseline's (counts; the ranking for topOpen)."""
    from crm_graphql.services.lead_statistics import conversion_rate

    stats = data["leadStatistics"]
    if label == "conversionRate":
        want = conversion_rate(int(rows[0]["n"]), int(rows[0]["won"] or 0))
        got = stats["conversionRate"]
        assert got == (str(want) if want is not None else None), (got, want)
        return
    if label == "topOpen":
        assert [int(x["id"]) for x in stats["topOpen"]] == [r["id"] for r in rows]
        return
    key, field = {
        "byChannel": ("channel", "byChannel"),
        "byCountry": ("country", "byCountry"),
        "byOwner": ("owner", "byOwner"),
        "funnel": ("progress", "funnel"),
    }.get(label) or ("start", STATISTICS[label].split(":")[0])
    got = {}
    for item in stats[field]:
        if item["count"] == 0:
            continue  # the funnel's empty steps
        value = item[key]
        got[str(value["code"] if key == "progress" else value or "")] = item["count"]
    want = counts_of(rows)
    if key == "owner":
        # the baseline groups by owner id; compare the counts as a multiset
        assert sorted(got.values()) == sorted(want.values()), label
    else:
        assert got == {str(k): v for k, v in want.items()}, (label, got, want)


# ---------------------------------------------------------------------------------------
# Measuring


def statistics_query(labels: list[str]) -> str:
    fields = " ".join(STATISTICS[label] for label in labels)
    return f"query Statistics {{ leadStatistics {{ {fields} }} }}"


async def sequential(request: Callable[[], Awaitable[Any]], warmup: int, n: int) -> dict:
    """p50, p99 and the slowest of `n` requests one after the other, in ms."""
    for _ in range(warmup):
        await request()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await request()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(samples),
        "p99": percentile(samples, 99),
        "max": max(samples),
    }


async def record(post: Callable[[], Awaitable[Any]]) -> tuple[Any, list[tuple[str, list]]]:
    """One request, with the SQL statements it sent (authentication left out)."""
    with _Recorder() as recorder:
        body = await post()
    auth = ("auth_tokens", "assignments")
    statements = [(q, v) for q, v in recorder.seen if not any(a in q[:300] for a in auth)]
    return body, statements


async def replay(statements: list[tuple[str, list]], runs: int) -> dict[str, float]:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")

    async def run() -> None:
        for query, values in statements:
            await conn.execute_query(query, values)

    return await sequential(run, 1, runs)


async def measure(
    client: Any, token: str, viewer: dict[str, Any], name: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    from tortoise import Tortoise

    from crm_graphql.services.sqlcount import count_statements

    postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
    conn = Tortoise.get_connection("default")
    headers = {"Authorization": f"Bearer {token}"}
    out: list[dict[str, Any]] = []

    def poster(query: str, variables: dict[str, Any] | None = None) -> Callable[[], Any]:
        payload = {"query": query, "variables": variables or {}}

        async def post() -> Any:
            response = await client.post("/graphql", json=payload, headers=headers)
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, response.text[:2000]
            return body["data"]

        return post

    for label in [*STATISTICS, ALL]:
        labels = list(STATISTICS) if label == ALL else [label]
        post = poster(statistics_query(labels))
        data, statements = await record(post)
        with count_statements() as seen:
            await post()
        figures: dict[str, Any] = {"what": label, "viewer": name, "statements": len(seen)}
        base: dict[str, float] = {}
        if label != ALL:
            sql = baseline_sql(label, viewer, postgres)
            check(label, data, await conn.execute_query_dict(sql))

            async def baseline(sql: str = sql) -> None:
                await conn.execute_query_dict(sql)

            base = await sequential(baseline, 1, args.runs)
        gc.collect()
        timed = await sequential(post, 1, args.runs)
        figures.update(
            p50=timed["p50"],
            max=timed["max"],
            sql_p50=(await replay(statements, args.runs))["p50"],
            baseline_p50=base.get("p50"),
        )
        out.append(figures)
        print_row(figures)

    for label, variables in PIPELINES.items():
        post = poster(PIPELINE, variables)
        data, statements = await record(post)
        steps = data["leadPipeline"]
        assert len(steps) == (9 if variables.get("closed") else 5)
        with count_statements() as seen:
            await post()
        gc.collect()
        timed = await sequential(post, 3, args.requests)
        figures = {
            "what": f"pipeline {label}",
            "viewer": name,
            "statements": len(seen),
            "p50": timed["p50"],
            "p99": timed["p99"],
            "max": timed["max"],
            "sql_p50": (await replay(statements, min(args.requests, 20)))["p50"],
            "leads": sum(len(s["leads"]) for s in steps),
            "counted": sum(s["count"] for s in steps),
        }
        if not variables:
            sqls = [baseline_sql(f"pipeline {p}", viewer, postgres) for p in ("totals", "leads")]

            async def baseline_pipeline(sqls: list[str] = sqls) -> None:
                for sql in sqls:
                    await conn.execute_query_dict(sql)

            figures["baseline_p50"] = (await sequential(baseline_pipeline, 1, 20))["p50"]
        out.append(figures)
        print_row(figures)
    return out


def print_row(f: dict[str, Any]) -> None:
    text = f"  {f['viewer']:8} {f['what']:36} p50 {f['p50']:8.1f} ms"
    if "p99" in f:
        text += f" p99 {f['p99']:8.1f}"
    text += f" max {f['max']:8.1f} | statements {f['statements']:2} | SQL {f['sql_p50']:8.1f}"
    if f.get("baseline_p50") is not None:
        text += f" | baseline {f['baseline_p50']:8.1f}"
    print(text, flush=True)


def markdown(results: list[dict[str, Any]], database: str) -> str:
    rows = []
    for r in results:
        base = r.get("baseline_p50")
        cells = [
            database,
            r["viewer"],
            r["what"],
            f"{r['p50']:.0f}",
            f"{r['p99']:.0f}" if "p99" in r else "",
            f"{r['max']:.0f}",
            f"{r['sql_p50']:.0f}",
            f"{base:.0f}" if base is not None else "",
            str(r["statements"]),
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
    async with app.router.lifespan_context(app):
        started = time.perf_counter()
        world = await generate(args, postgres)
        generated = time.perf_counter() - started
        database = "PostgreSQL" if postgres else "SQLite"
        print(
            f"{database}: {world['counts']}, generated in {generated:.1f} s "
            f"(the leads INSERT ... SELECT: {world['insert_s']:.1f} s)",
            flush=True,
        )
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            for name in viewers:
                token = await login(client, world[name]["username"])
                results.extend(await measure(client, token, world[name], name, args))
    print(markdown(results, database))
    report = {
        "machine": machine(),
        "args": vars(args),
        "counts": world["counts"],
        "generated_s": generated,
        "results": results,
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
