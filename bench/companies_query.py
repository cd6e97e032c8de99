"""Benchmark: the companies list with its nested data, GraphQL vs one raw SQL statement.

    .venv/bin/python bench/companies_query.py [--companies 10000] [--database-url URL]
        [--requests 200] [--warmup 30] [--viewers admin,manager] [--uvicorn] [--executor-too]

Generates N companies (in a tree, with managers inside and outside the viewer's
company, so some parents are hidden from a non-superadmin viewer), each with contacts
and custom field values, straight into the database (bulk inserts; paths filled with
`fill_missing_paths`). Then, for each viewer (a superadmin, and a non-superadmin CRM
manager), it measures sequential requests (concurrency 1) of

    companies(first: 50) { edges { node { manager { username } parent { name }
      contacts(first: 10) { edges { node { fullName } } } customFields { name value }
      viewerCan { edit } } } }

over HTTP against `create_app()` (in process through httpx.ASGITransport, and with
--uvicorn also through a real uvicorn server in a subprocess), next to a baseline: one
hand-written SQL statement that builds the same JSON (nested json_agg / json_object,
same visibility rule, same order, same per-parent limit) served by a bare Starlette
endpoint over the same connection pool. The baseline's JSON is checked equal to the
GraphQL response's `data` before anything is timed. Each line says which path answered
(`compiled`: the compiled read path's one statement; `executor`: graphql-core with the
loaders); --executor-too also measures the same app with compiled reads off.

SQLite by default (a temporary file). With a PostgreSQL URL
(postgres://postgres@127.0.0.1:5432/<db>) the database is created, and dropped at the end
unless --keep."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import executor_client, interleaved  # noqa: E402
from bench.common import percentile as percentile  # noqa: E402  (the others import it here)

QUERY = """query Companies { companies(first: 50) { edges { node {
  manager { username } parent { name }
  contacts(first: 10) { edges { node { fullName } } }
  customFields { name value } viewerCan { edit } } } } }"""

PASSWORD = "bench-password"
SQL_FILE_ENV = "BENCH_RAW_SQL_FILE"
TUNE_GC_ENV = "BENCH_TUNE_GC"


def tune_gc() -> None:
    """What the server's lifespan does after start-up (crm_graphql.app)."""
    from crm_graphql.app import tune_garbage_collector

    tune_garbage_collector()


# ---------------------------------------------------------------------------------------
# Command line and environment (before crm_graphql is imported: settings read the env)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=10_000, help="companies to generate")
    parser.add_argument("--contacts", type=int, default=5, help="contacts per company")
    parser.add_argument("--fields", type=int, default=3, help="company custom fields")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per server")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first")
    parser.add_argument("--viewers", default="admin,manager", help="admin, manager or both")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--uvicorn", action="store_true", help="also measure through uvicorn")
    parser.add_argument("--profile", default="", help="write a pyinstrument profile here")
    parser.add_argument(
        "--tune-gc",
        action="store_true",
        help="gc.freeze() after start-up and a higher gen-0 threshold (what the app could do)",
    )
    parser.add_argument(
        "--executor-too",
        action="store_true",
        help="also measure with CRM_COMPILED_READS=0 (every operation on the executor)",
    )
    return parser.parse_args(argv)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "asyncpg://"))


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"database name {name!r}: letters, digits and _ only")
    admin = urlunsplit(
        (parts.scheme.replace("asyncpg", "postgres"), parts.netloc, "/postgres", "", "")
    )
    return admin, name


async def create_postgres_database(url: str) -> None:
    import asyncpg

    admin, name = _admin_url(url)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    admin, name = _admin_url(url)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------
# Data


COUNTRIES = ["Spain", "France", "Germany", "Portugal", "Italy", "Mexico", "Chile", "Peru"]
FIRST = ["Ana", "Bob", "Carla", "David", "Elena", "Fran", "Gema", "Hugo", "Irene", "Jon"]
LAST = ["García", "Jones", "Ruiz", "López", "Smith", "Martín", "Sanz", "Pérez", "Gil", "Vega"]


async def generate(n: int, contacts_per: int, n_fields: int) -> dict[str, Any]:
    """The bench world; returns what the baseline SQL needs to know about the viewers."""
    from crm_graphql.models.companies import Company
    from crm_graphql.models.contacts import Contact
    from crm_graphql.models.customfields import (
        CustomField,
        CustomFieldEntity,
        CustomFieldKind,
        CustomFieldSection,
        CustomFieldValue,
    )
    from crm_graphql.models.users import Assignment, Group, Profile, User
    from crm_graphql.services.bootstrap import ensure_defaults
    from crm_graphql.services.companies import fill_missing_paths
    from crm_graphql.services.passwords import hash_password_async

    await ensure_defaults()
    password_hash = await hash_password_async(PASSWORD)
    hq = await Company.create(name="Bench HQ", country="Spain")
    outside = await Company.create(name="Bench Outside", country="France")
    admin = await User.create(
        username="bench_admin", is_superadmin=True, password_hash=password_hash, company=hq
    )
    manager = await User.create(username="bench_manager", password_hash=password_hash, company=hq)
    group = await Group.get(name="All")
    await Assignment.create(
        user=manager, profile=await Profile.get(name="CRM manager"), group=group
    )
    await User.bulk_create(
        [User(username=f"colleague{i:02}", password_hash="!", company=hq) for i in range(20)]
        + [User(username=f"outsider{i:02}", password_hash="!", company=outside) for i in range(20)]
    )
    # the manager and 20 colleagues in HQ; 20 outsiders in the other root
    colleagues = list(await User.filter(company_id=hq.id, is_superadmin=False).order_by("id"))
    outsiders = list(await User.filter(company_id=outside.id).order_by("id"))
    hq.manager, outside.manager = admin, outsiders[0]
    await hq.save(update_fields=["manager_id"])
    await outside.save(update_fields=["manager_id"])

    def name(i: int) -> str:
        # a bijection of 0..n-1 (7919 is prime and does not divide 10^k): name order is
        # not id order
        return f"Company {(i * 7919) % n:07d}"

    groups = max(1, n // 50)
    group_rows = [
        Company(
            name=name(i),
            parent_id=hq.id,
            manager_id=colleagues[i % len(colleagues)].id,
            country=COUNTRIES[i % len(COUNTRIES)],
        )
        for i in range(groups)
    ]
    await Company.bulk_create(group_rows, batch_size=1000)
    group_ids = [
        row["id"] for row in await Company.filter(parent_id=hq.id).order_by("id").values("id")
    ]
    rows = []
    for i in range(groups, n):
        if i % 10 == 0:
            # under a root the manager cannot see: visible when a colleague manages it
            # (its parent then comes back null), hidden otherwise
            parent_id = outside.id
            who = colleagues[i % len(colleagues)] if i % 20 == 0 else outsiders[i % 20]
        else:
            parent_id = group_ids[i % groups]
            who = outsiders[i % 20] if i % 7 == 0 else colleagues[i % len(colleagues)]
        rows.append(
            Company(
                name=name(i),
                parent_id=parent_id,
                manager_id=who.id,
                country=COUNTRIES[i % len(COUNTRIES)],
                billing_cents=(i * 37) % 100_000,
            )
        )
    await Company.bulk_create(rows, batch_size=1000)
    await fill_missing_paths()

    company_ids = [
        row["id"]
        for row in await Company.filter(id__not_in=[hq.id, outside.id]).order_by("id").values("id")
    ]
    contacts = [
        Contact(
            company_id=cid,
            full_name=f"{FIRST[(cid + j) % 10]} {LAST[(cid * 3 + j) % 10]} {cid}-{j}",
            email=f"c{cid}-{j}@example.com",
        )
        for cid in company_ids
        for j in range(contacts_per)
    ]
    for start in range(0, len(contacts), 5000):
        await Contact.bulk_create(contacts[start : start + 5000], batch_size=1000)

    section = await CustomFieldSection.create(name="Bench data", position=1)
    kinds = [CustomFieldKind.TEXT, CustomFieldKind.NUMERIC, CustomFieldKind.CHECKBOX]
    fields = [
        await CustomField.create(
            entity=CustomFieldEntity.COMPANY,
            name=f"Field {k}",
            kind=kinds[k % 3],
            position=k,
            section=section if k % 2 == 0 else None,
        )
        for k in range(n_fields)
    ]

    def value(field: CustomField, cid: int) -> str:
        if field.kind == CustomFieldKind.NUMERIC:
            return str(cid % 500)
        if field.kind == CustomFieldKind.CHECKBOX:
            return "1" if cid % 2 else "0"
        return f"text {cid}"

    values = [
        CustomFieldValue(field_id=f.id, object_id=cid, value=value(f, cid))
        for cid in company_ids
        for k, f in enumerate(fields)
        if (cid + k) % 5  # about one in five left unset
    ]
    for start in range(0, len(values), 5000):
        await CustomFieldValue.bulk_create(values[start : start + 5000], batch_size=1000)

    hq_path = (await Company.get(id=hq.id)).path
    return {
        "admin": {"username": "bench_admin", "superadmin": True},
        "manager": {
            "username": "bench_manager",
            "superadmin": False,
            "id": manager.id,
            "company_id": hq.id,
            "company_path": hq_path,
            # CRM manager: CR, CW and CM
            "edit": "all",
        },
    }


# ---------------------------------------------------------------------------------------
# The raw-SQL baseline: one statement that builds the whole response


def _visible(alias: str, viewer: dict[str, Any]) -> str:
    """SPEC §2 for a GROUPED non-superadmin with CR, as plain SQL (or TRUE)."""
    if viewer["superadmin"]:
        return "1=1"
    me, own, path = int(viewer["id"]), int(viewer["company_id"]), viewer["company_path"]
    if not re.fullmatch(r"[0-9/]+", path):
        raise ValueError("unexpected path")
    a = alias
    return (
        f"({a}.manager_id = {me} OR ({a}.parent_id IS NOT NULL AND ({a}.id = {own} "
        f"OR {a}.manager_id IN (SELECT u.id FROM users u WHERE u.company_id = {own}) "
        f"OR ({a}.path LIKE '{path}%' AND {a}.id <> {own}))))"
    )


def _edit(viewer: dict[str, Any], postgres: bool) -> str:
    # superadmin, or CW + CM (a CRM manager): every visible company is editable
    if viewer["superadmin"] or viewer.get("edit") == "all":
        return "true" if postgres else "json('true')"
    me = int(viewer["id"])
    if postgres:
        return f"(p.manager_id = {me})"
    return f"json(CASE WHEN p.manager_id = {me} THEN 'true' ELSE 'false' END)"


def raw_sql(viewer: dict[str, Any], postgres: bool) -> str:
    visible_c = _visible("c", viewer)
    visible_pc = _visible("pc", viewer)
    edit = _edit(viewer, postgres)
    if postgres:
        return f"""
WITH page AS (
  SELECT c.id, c.name, c.manager_id, c.parent_id FROM companies c
  WHERE {visible_c} ORDER BY c.name, c.id LIMIT 50
)
SELECT json_build_object('data', json_build_object('companies', json_build_object('edges',
  COALESCE(json_agg(json_build_object('node', json_build_object(
    'manager', (SELECT json_build_object('username', u.username) FROM users u
                WHERE u.id = p.manager_id),
    'parent', (SELECT json_build_object('name', pc.name) FROM companies pc
               WHERE pc.id = p.parent_id AND {visible_pc}),
    'contacts', json_build_object('edges', (
      SELECT COALESCE(json_agg(json_build_object('node',
               json_build_object('fullName', x.full_name)) ORDER BY x.full_name, x.id), '[]')
      FROM (SELECT full_name, id FROM contacts WHERE company_id = p.id
            ORDER BY full_name, id LIMIT 10) x)),
    'customFields', (
      SELECT COALESCE(json_agg(json_build_object('name', f.name, 'value', v.value)
                               ORDER BY f.position, f.id), '[]')
      FROM custom_fields f LEFT JOIN custom_field_values v
        ON v.field_id = f.id AND v.object_id = p.id
      WHERE f.entity = 'COMPANY' AND f.owner_id IS NULL),
    'viewerCan', json_build_object('edit', {edit})
  )) ORDER BY p.name, p.id), '[]'))))::text AS body
FROM page p"""
    # SQLite 3.40: no ORDER BY inside aggregates; json_group_array over an ordered
    # subquery keeps its order. json() keeps nested values JSON, not text.
    return f"""
SELECT json_object('data', json_object('companies', json_object('edges', json(COALESCE((
  SELECT json_group_array(json_object('node', json_object(
    'manager', json((SELECT json_object('username', u.username) FROM users u
                     WHERE u.id = p.manager_id)),
    'parent', json((SELECT json_object('name', pc.name) FROM companies pc
                    WHERE pc.id = p.parent_id AND {visible_pc})),
    'contacts', json_object('edges', json((
      SELECT json_group_array(json_object('node', json_object('fullName', x.full_name)))
      FROM (SELECT full_name, id FROM contacts WHERE company_id = p.id
            ORDER BY full_name, id LIMIT 10) x))),
    'customFields', json((
      SELECT json_group_array(json_object('name', y.name, 'value', y.value))
      FROM (SELECT f.name, v.value FROM custom_fields f LEFT JOIN custom_field_values v
              ON v.field_id = f.id AND v.object_id = p.id
            WHERE f.entity = 'COMPANY' AND f.owner_id IS NULL
            ORDER BY f.position, f.id) y)),
    'viewerCan', json_object('edit', {edit})
  )))
  FROM (SELECT c.id, c.name, c.manager_id, c.parent_id FROM companies c
        WHERE {visible_c} ORDER BY c.name, c.id LIMIT 50) p
), '[]'))))) AS body"""


def raw_app(sql_by_viewer: dict[str, str]) -> Any:
    """A bare Starlette endpoint: run the viewer's statement, return its text."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from tortoise import Tortoise

    async def endpoint(request: Request) -> Response:
        sql = sql_by_viewer[request.path_params["viewer"]]
        connection = Tortoise.get_connection("default")
        # One round trip, as the compiled reads' statements (on PostgreSQL the read pool
        # of services/postgres_engine.py: no SET before, no RESET ALL after).
        read = getattr(connection, "read_rows", None)
        rows = await read(sql, []) if read else await connection.execute_query_dict(sql)
        return Response(rows[0]["body"], media_type="application/json")

    return Starlette(routes=[Route("/raw/{viewer}", endpoint, methods=["GET", "POST"])])


def uvicorn_app() -> Any:
    """For uvicorn --factory: the CRM app, with /raw/... served beside it."""
    from crm_graphql.app import create_app

    crm = create_app()
    raw = raw_app(json.loads(Path(os.environ[SQL_FILE_ENV]).read_text()))
    if os.environ.get(TUNE_GC_ENV):
        tune_gc()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/raw/"):
            await raw(scope, receive, send)
        else:
            await crm(scope, receive, send)

    return app


# ---------------------------------------------------------------------------------------
# Measuring


def machine() -> dict[str, str]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
        except OSError:
            return "?"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in run("lscpu").splitlines()
            if "Model name" in line
        ),
        platform.processor(),
    )
    memory = next((line for line in run("free", "-g").splitlines() if line.startswith("Mem")), "")
    names = (
        "strawberry-graphql",
        "graphql-core",
        "starlette",
        "tortoise-orm",
        "uvicorn",
        "uvloop",
        "asyncpg",
        "aiosqlite",
        "orjson",
        "httpx",
        "ciso8601",
    )
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {
        "cpus": run("nproc").strip(),
        "cpu": cpu,
        "memory_gib": memory.split()[1] if memory else "?",
        "python": platform.python_version(),
        "libraries": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


async def login(client: Any, username: str) -> str:
    body = {
        "query": "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) "
        "{ token errors { message } } }",
        "operationName": "Login",
        "variables": {"u": username, "p": PASSWORD},
    }
    response = await client.post("/graphql", json=body)
    return response.json()["data"]["login"]["token"]


async def measure_servers(
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

    body = {"query": QUERY, "operationName": "Companies"}
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

        # same data, and how many statements each costs (in process only)
        await gql()
        statements = {"graphql": "", "raw": ""}
        path = ""
        if count:
            with count_statements() as seen:
                gql_body = orjson.loads(await gql())
            statements["graphql"] = str(len(seen))
            # The compiled path's statement names the JSON it builds (crm_node).
            path = "compiled" if any("crm_node" in s for s in seen) else "executor"
            with count_statements() as seen:
                raw_body = orjson.loads(await raw())
            statements["raw"] = str(len(seen))
        else:
            gql_body, raw_body = orjson.loads(await gql()), orjson.loads(await raw())
        assert "errors" not in gql_body, gql_body
        if gql_body["data"] != raw_body["data"]:
            raise SystemExit(f"{viewer}: the baseline's JSON differs from GraphQL's")
        edges = gql_body["data"]["companies"]["edges"]
        hidden_parents = sum(1 for e in edges if e["node"]["parent"] is None)
        gc.collect()
        figures = await interleaved({"graphql": gql, "raw": raw}, args.warmup, args.requests)
        results.append(
            {
                "server": label,
                "viewer": viewer,
                "graphql": figures["graphql"],
                "raw": figures["raw"],
                "statements": statements,
                "path": path,
                "bytes": len(await gql()),
                "edges": len(edges),
                "null_parents": hidden_parents,
            }
        )
        print(
            f"  {label:10} {viewer:8} GraphQL p50 {figures['graphql']['p50']:7.1f} ms "
            f"p99 {figures['graphql']['p99']:7.1f} | raw p50 {figures['raw']['p50']:6.1f} ms "
            f"p99 {figures['raw']['p99']:6.1f} | ratio p50 "
            f"{figures['graphql']['p50'] / figures['raw']['p50']:5.1f}x | statements "
            f"{statements['graphql'] or '-'} vs {statements['raw'] or '-'}"
            f"{' (' + path + ')' if path else ''}",
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
        "bench.companies_query:uvicorn_app",
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
            await measure_servers(http, http, tokens, viewers, args, "uvicorn", results, False)
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
        world = await generate(args.companies, args.contacts, args.fields)
        generated = time.perf_counter() - started
        if postgres:
            from tortoise import Tortoise

            await Tortoise.get_connection("default").execute_script("ANALYZE")
        print(
            f"{'PostgreSQL' if postgres else 'SQLite'}: {args.companies} companies, "
            f"{args.contacts} contacts each, {args.fields} custom fields, "
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
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
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
            if args.profile:
                await profile(client, tokens[viewers[-1]], args.profile)
        if args.uvicorn:
            sql_file = Path(config.data_dir) / "bench-raw-sql.json"
            sql_file.parent.mkdir(parents=True, exist_ok=True)
            sql_file.write_text(json.dumps(sql_by_viewer))
            env = dict(os.environ, **{SQL_FILE_ENV: str(sql_file)})
            if args.tune_gc:
                env[TUNE_GC_ENV] = "1"
            await run_uvicorn(args, env, tokens, viewers, results)
            if args.executor_too and config.compiled_reads:
                env["CRM_COMPILED_READS"] = "0"
                await run_uvicorn(args, env, tokens, viewers, results)
    print(json.dumps({"machine": machine(), "args": vars(args), "results": results}, indent=1))


async def profile(client: Any, token: str, path: str) -> None:
    """A pyinstrument profile of 100 GraphQL requests (pyinstrument: install it yourself)."""
    from pyinstrument import Profiler

    body = {"query": QUERY, "operationName": "Companies"}
    headers = {"Authorization": f"Bearer {token}"}
    profiler = Profiler(async_mode="enabled", interval=0.0005)
    with profiler:
        for _ in range(100):
            await client.post("/graphql", json=body, headers=headers)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    await asyncio.to_thread(Path(path).write_text, text)
    print(f"  profile written to {path}", flush=True)


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
