"""Benchmark: the lead list (owner, company, tags, last activity), GraphQL vs one raw SQL
statement.

    .venv/bin/python bench/lead_list.py [--leads 20000] [--companies 2000]
        [--database-url URL] [--requests 200] [--warmup 30] [--viewers admin,manager]
        [--uvicorn] [--keep] [--without-activities] [--executor-too] [--mixed]

Generates the companies and users of `bench/companies_query.py` (a tree with managers
inside and outside the viewers' company; no contacts nor custom fields), 12 tags, then N
leads (owner one of 42 users or none, managing company one of the companies or none,
about one in five closed, distinct creation times) with 0 to 2 tags and 0 to 3
activities each, in bulk. Then, for each viewer (a superadmin, and a CRM manager who
sees leads through the lead rule and whose hidden companies come back null), it measures
sequential requests (concurrency 1) of

    leads(first: 50, orderBy: [{field: CREATED_AT, direction: DESC}]) { edges { node {
      id fullName country estimatedSale currency owner { username } company { name }
      tags { name } activities(first: 1) { edges { node { text } } } } } }

(--without-activities: the same without `activities`, which the compiled read path
answers in one statement; the executor answers the query with them)
over HTTP against `create_app()` (in process through httpx.ASGITransport, and with
--uvicorn also through a real uvicorn server in a subprocess), next to a baseline: one
statement that builds the same JSON, served by a bare Starlette endpoint over the same
connection pool. The baseline writes the lead and company rules out in SQL (as
companies_query.py does); its JSON is checked equal to GraphQL's `data` before anything
is timed, so both apply the same access. --mixed also times, interleaved with them, the
query with a second root field the executor answers (`viewer { username }`).
--executor-too also measures, in process, the same app with compiled reads off
(CRM_COMPILED_READS=0: every field on the executor).

SQLite by default (a temporary file). With a PostgreSQL URL the database is created, and
dropped at the end unless --keep."""

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import executor_client, interleaved  # noqa: E402
from bench.companies_query import (  # noqa: E402
    _visible,
    create_postgres_database,
    drop_postgres_database,
    generate,
    is_postgres,
    login,
    machine,
)

QUERY = """query Leads { leads(first: 50, orderBy: [{field: CREATED_AT, direction: DESC}]) {
  edges { node { id fullName country estimatedSale currency owner { username }
  company { name } tags { name } activities(first: 1) { edges { node { text } } } } } } }"""

QUERY_WITHOUT_ACTIVITIES = QUERY.replace(" activities(first: 1) { edges { node { text } } }", "")
assert QUERY_WITHOUT_ACTIVITIES != QUERY

SQL_FILE_ENV = "BENCH_LEAD_SQL_FILE"
COUNTRIES = ["Spain", "France", "Germany", "Portugal", "Italy", "Mexico"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000, help="leads to generate")
    parser.add_argument("--companies", type=int, default=2_000, help="companies to generate")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per server")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first")
    parser.add_argument("--viewers", default="admin,manager", help="admin, manager or both")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--uvicorn", action="store_true", help="also measure through uvicorn")
    parser.add_argument(
        "--without-activities",
        action="store_true",
        help="leave activities out of the query (the compiled read path answers it)",
    )
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="also time the query with a root field the compiled path leaves to the "
        "executor (`viewer { username }`), interleaved with the others",
    )
    parser.add_argument(
        "--executor-too",
        action="store_true",
        help="also measure in process with CRM_COMPILED_READS=0 (every field on the executor)",
    )
    return parser.parse_args(argv)


def query_of(args: argparse.Namespace) -> str:
    return QUERY_WITHOUT_ACTIVITIES if args.without_activities else QUERY


def mixed_query_of(args: argparse.Namespace) -> str:
    """The query with a second root field, `viewer` (answered by the executor, reading
    nothing: the viewer is loaded with the token), after `leads`."""
    query = query_of(args).rstrip()
    assert query.endswith("}")
    return query[:-1] + " viewer { username } }"


async def generate_leads(n: int) -> None:
    from tortoise import Tortoise

    from crm_graphql.models.companies import Company
    from crm_graphql.models.leads import Lead, LeadActivity, LeadTag, LeadTagLink
    from crm_graphql.models.users import User

    users = [row["id"] for row in await User.all().order_by("id").values("id")]
    companies = [row["id"] for row in await Company.all().order_by("id").values("id")]
    await LeadTag.bulk_create([LeadTag(name=f"Tag {k:02}") for k in range(12)])
    tags = [row["id"] for row in await LeadTag.all().order_by("id").values("id")]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for first in range(0, n, 5000):
        rows = []
        for i in range(first, min(n, first + 5000)):
            h = (i * 2_654_435_761) % 2**32
            rows.append(
                Lead(
                    full_name=f"Lead {i:07d}",
                    email=f"lead{i}@example.com",
                    country=COUNTRIES[h % len(COUNTRIES)],
                    estimated_sale_cents=(h % 5_000_000),
                    currency="EUR" if h % 3 else "USD",
                    progress=(0, 20, 40, 60, 100)[h % 5],
                    owner_id=None if h % 7 == 0 else users[h % len(users)],
                    company_id=None if h % 6 == 0 else companies[(h >> 8) % len(companies)],
                    created_at=start + timedelta(seconds=i * 37),
                )
            )
        await Lead.bulk_create(rows, batch_size=1000)
    # auto_now_add overrode the creation times: set them (distinct, so order is total)
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(
            "UPDATE leads SET created_at = TIMESTAMPTZ '2024-01-01 00:00:00+00' "
            "+ (id * 37) * INTERVAL '1 second'"
        )
    else:
        await connection.execute_script(
            "UPDATE leads SET created_at = strftime('%Y-%m-%d %H:%M:%f+00:00', "
            "'2024-01-01', '+' || (id * 37) || ' seconds')"
        )
    ids = [row["id"] for row in await Lead.all().order_by("id").values("id")]
    links = [
        LeadTagLink(lead_id=lead, tag_id=tags[(lead * (k + 3)) % len(tags)])
        for lead in ids
        for k in range(lead % 3)
        if k == 0 or (lead * 4) % len(tags) != (lead * 3) % len(tags)
    ]
    for first in range(0, len(links), 5000):
        await LeadTagLink.bulk_create(links[first : first + 5000], batch_size=1000)
    activities = [
        LeadActivity(lead_id=lead, text=f"Note {k} on {lead}")
        for lead in ids
        for k in range((lead * 7) % 4)
    ]
    for first in range(0, len(activities), 5000):
        await LeadActivity.bulk_create(activities[first : first + 5000], batch_size=1000)


def raw_sql(viewer: dict[str, Any], postgres: bool, activities: bool = True) -> str:
    """One statement answering the query for the viewer; the lead rule of
    `permissions/leads.py` (SPEC §7) for a superadmin or a GROUPED CRM manager (CR and
    LM), written out, over the company rule of bench/companies_query.py."""
    if viewer["superadmin"]:
        leads, company = "1=1", "1=1"
    else:
        me, own = int(viewer["id"]), int(viewer["company_id"])
        companies = f"SELECT c.id FROM companies c WHERE {_visible('c', viewer)}"
        leads = (
            f"(l.owner_id = {me} OR (l.owner_id IS NULL AND l.company_id IS NULL) "
            f"OR l.owner_id IN (SELECT u.id FROM users u WHERE u.company_id = {own}) "
            f"OR l.company_id IN ({companies}))"
        )
        company = _visible("c", viewer)
    pg_activities = sqlite_activities = ""
    if activities:
        pg_activities = """, 'activities', json_build_object('edges', (
      SELECT COALESCE(json_agg(json_build_object('node', json_build_object('text', a.text))),
                      '[]')
      FROM (SELECT text FROM lead_activities WHERE lead_id = p.id
            ORDER BY created_at DESC, id DESC LIMIT 1) a))"""
        sqlite_activities = """, 'activities', json_object('edges', json((
      SELECT json_group_array(json_object('node', json_object('text', a.text)))
      FROM (SELECT text FROM lead_activities WHERE lead_id = p.id
            ORDER BY created_at DESC, id DESC LIMIT 1) a)))"""
    if postgres:
        return f"""
WITH page AS (
  SELECT l.* FROM leads l WHERE {leads} AND l.progress < 100
  ORDER BY l.created_at DESC, l.id DESC LIMIT 50
)
SELECT json_build_object('data', json_build_object('leads', json_build_object('edges',
  COALESCE(json_agg(json_build_object('node', json_build_object(
    'id', p.id::text, 'fullName', p.full_name, 'country', p.country,
    'estimatedSale', (p.estimated_sale_cents / 100.0)::numeric(20, 2)::text,
    'currency', p.currency,
    'owner', (SELECT json_build_object('username', u.username) FROM users u
              WHERE u.id = p.owner_id),
    'company', (SELECT json_build_object('name', c.name) FROM companies c
                WHERE c.id = p.company_id AND {company}),
    'tags', (SELECT COALESCE(json_agg(json_build_object('name', t.name) ORDER BY t.name, t.id),
                             '[]')
             FROM lead_tag_links k JOIN lead_tags t ON t.id = k.tag_id WHERE k.lead_id = p.id)
    {pg_activities}
  )) ORDER BY p.created_at DESC, p.id DESC), '[]'))))::text AS body
FROM page p"""
    return f"""
SELECT json_object('data', json_object('leads', json_object('edges', json(COALESCE((
  SELECT json_group_array(json_object('node', json_object(
    'id', CAST(p.id AS TEXT), 'fullName', p.full_name, 'country', p.country,
    'estimatedSale', printf('%d.%02d', p.estimated_sale_cents / 100,
                            p.estimated_sale_cents % 100),
    'currency', p.currency,
    'owner', json((SELECT json_object('username', u.username) FROM users u
                   WHERE u.id = p.owner_id)),
    'company', json((SELECT json_object('name', c.name) FROM companies c
                     WHERE c.id = p.company_id AND {company})),
    'tags', json((SELECT json_group_array(json_object('name', x.name)) FROM (
      SELECT t.name FROM lead_tag_links k JOIN lead_tags t ON t.id = k.tag_id
      WHERE k.lead_id = p.id ORDER BY t.name, t.id) x))
    {sqlite_activities}
  )))
  FROM (SELECT l.* FROM leads l WHERE {leads} AND l.progress < 100
        ORDER BY l.created_at DESC, l.id DESC LIMIT 50) p
), '[]'))))) AS body"""


def raw_app(sql_by_viewer: dict[str, str]) -> Any:
    from bench.companies_query import raw_app as companies_raw_app

    return companies_raw_app(sql_by_viewer)


def uvicorn_app() -> Any:
    """For uvicorn --factory: the CRM app, with /raw/... served beside it."""
    from crm_graphql.app import create_app

    crm = create_app()
    raw = raw_app(json.loads(Path(os.environ[SQL_FILE_ENV]).read_text()))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/raw/"):
            await raw(scope, receive, send)
        else:
            await crm(scope, receive, send)

    return app


async def measure(
    gql_client: Any,
    raw_client: Any,
    tokens: dict[str, str],
    viewers: list[str],
    args: argparse.Namespace,
    label: str,
    results: list[dict[str, Any]],
    count: bool,
) -> None:
    import orjson

    from crm_graphql.services.sqlcount import count_statements

    body = {"query": query_of(args), "operationName": "Leads"}
    mixed_body = {"query": mixed_query_of(args), "operationName": "Leads"}
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

        calls = {"graphql": gql, "raw": raw}
        if args.mixed:

            async def mixed(headers: dict[str, str] = headers) -> bytes:
                response = await gql_client.post("/graphql", json=mixed_body, headers=headers)
                assert response.status_code == 200, response.text
                return response.content

            calls["mixed"] = mixed
            both = orjson.loads(await mixed())
            assert "errors" not in both and list(both["data"]) == ["leads", "viewer"], both
            assert both["data"]["leads"] == orjson.loads(await gql())["data"]["leads"]
        await gql()
        statements = {"graphql": "", "raw": ""}
        if count:
            with count_statements() as seen:
                gql_body = orjson.loads(await gql())
            statements["graphql"] = str(len(seen))
            with count_statements() as seen:
                raw_body = orjson.loads(await raw())
            statements["raw"] = str(len(seen))
        else:
            gql_body, raw_body = orjson.loads(await gql()), orjson.loads(await raw())
        assert "errors" not in gql_body, gql_body
        if gql_body["data"] != raw_body["data"]:
            first = next(
                (
                    (g, r)
                    for g, r in zip(
                        gql_body["data"]["leads"]["edges"],
                        raw_body["data"]["leads"]["edges"],
                        strict=False,
                    )
                    if g != r
                ),
                None,
            )
            raise SystemExit(f"{viewer}: the baseline's JSON differs from GraphQL's: {first}")
        edges = gql_body["data"]["leads"]["edges"]
        gc.collect()
        figures = await interleaved(calls, args.warmup, args.requests)
        results.append(
            {
                "server": label,
                "viewer": viewer,
                "graphql": figures["graphql"],
                "raw": figures["raw"],
                "statements": statements,
                "edges": len(edges),
                "null_companies": sum(1 for e in edges if e["node"]["company"] is None),
            }
        )
        print(
            f"  {label:10} {viewer:8} GraphQL p50 {figures['graphql']['p50']:7.1f} ms "
            f"p99 {figures['graphql']['p99']:7.1f} | raw p50 {figures['raw']['p50']:6.1f} ms "
            f"p99 {figures['raw']['p99']:6.1f} | ratio p50 "
            f"{figures['graphql']['p50'] / figures['raw']['p50']:5.1f}x | statements "
            f"{statements['graphql'] or '-'} vs {statements['raw'] or '-'}",
            flush=True,
        )
        if "mixed" in figures:
            print(
                f"  {label:10} {viewer:8} with viewer p50 {figures['mixed']['p50']:7.1f} ms "
                f"p99 {figures['mixed']['p99']:7.1f} | ratio p50 "
                f"{figures['mixed']['p50'] / figures['raw']['p50']:5.1f}x",
                flush=True,
            )


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
        "bench.lead_list:uvicorn_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            await measure(http, http, tokens, viewers, args, "uvicorn", results, False)
    finally:
        server.terminate()
        server.wait(timeout=10)


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
        world = await generate(args.companies, 0, 0)
        await generate_leads(args.leads)
        generated = time.perf_counter() - started
        if postgres:
            from tortoise import Tortoise

            await Tortoise.get_connection("default").execute_script("ANALYZE")
        print(
            f"{'PostgreSQL' if postgres else 'SQLite'}: {args.leads} leads, "
            f"{args.companies} companies, generated in {generated:.1f} s",
            flush=True,
        )
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            tokens = {v: await login(client, world[v]["username"]) for v in viewers}
            activities = not args.without_activities
            sql_by_viewer = {v: raw_sql(world[v], postgres, activities) for v in viewers}
            raw_transport = httpx.ASGITransport(app=raw_app(sql_by_viewer))
            async with httpx.AsyncClient(
                transport=raw_transport, base_url="http://bench"
            ) as raw_client:
                await measure(
                    client, raw_client, tokens, viewers, args, "in-process", results, True
                )
                if args.executor_too and config.compiled_reads:
                    async with executor_client(config) as off:
                        await measure(
                            off,
                            raw_client,
                            tokens,
                            viewers,
                            args,
                            "executor",
                            results,
                            True,
                        )
        if args.uvicorn:
            sql_file = Path(config.data_dir) / "bench-lead-sql.json"
            sql_file.parent.mkdir(parents=True, exist_ok=True)
            sql_file.write_text(json.dumps(sql_by_viewer))
            env = dict(os.environ, **{SQL_FILE_ENV: str(sql_file)})
            await run_uvicorn(args, env, tokens, viewers, results)
    print(json.dumps({"machine": machine(), "args": vars(args), "results": results}, indent=1))


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
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    entry()
