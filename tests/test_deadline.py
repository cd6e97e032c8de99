"""A deadline on every request's database work (issue 11): a statement that outlives it
is stopped and the client gets a TIMEOUT error, the connection goes back to the pool
clean, a mutation that hits it writes nothing; on SQLite, reads do not queue behind
one slow read, and a second process (the CLI import) writes while the server writes.

The load tests (`pytest -m load`) generate 20,000 companies with one INSERT ... SELECT
and serve them with real uvicorn in a child process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise

from crm_graphql.app import create_app
from crm_graphql.errors import QueryTimeout
from crm_graphql.models.companies import Company
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.settings import settings
from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.factories import Api, error_codes
from tests.uvicorn_servers import CLI, loadadmin_token, post, serving_at

LOAD_COMPANIES = 20_000
# A statement that runs for minutes on either database: a billion-row recursive CTE.
ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) AS n FROM c"
)
BIG_QUERY = """query Big($filter: CompanyFilter) {
  companies(filter: $filter, first: 50) { totalCount edges { node { id name country } } }
}"""
VIEWER = "query Me { viewer { id } }"


def _db() -> Any:
    return Tortoise.get_connection("default")


async def make_companies(n: int, name_width: int = 0) -> None:
    """`n` companies from one INSERT ... SELECT over a generated series; names are
    padded to `name_width` characters (long names make every `contains` slower)."""
    pad = "x" * max(name_width - 20, 0)
    if IS_POSTGRES:
        series = f"generate_series(1, {n}) AS g(i)"
        now = "TIMESTAMPTZ '2025-01-01 00:00:00+00'"
    else:
        series = (
            f"(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n}) "
            "SELECT i FROM g) AS g"
        )
        now = "'2025-01-01 00:00:00.000000+00:00'"
    await _db().execute_script(
        "INSERT INTO companies (name, address, fiscal_id, country, website, comments, "
        "role_id, parent_id, manager_id, last_update, payment_conditions, office_phone, "
        "general_email, created_at, version, path, last_activity_at, "
        "last_activity_key) "
        f"SELECT 'Load {pad} ' || g.i, '', NULL, "
        "CASE g.i % 4 WHEN 0 THEN 'Spain' WHEN 1 THEN 'France' WHEN 2 THEN 'Portugal' "
        f"ELSE 'Italy' END, '', '', NULL, NULL, NULL, {now}, 30, '', '', {now}, 1, '', "
        f"NULL, 0 FROM {series};"
        "UPDATE companies SET path = '/' || id || '/' WHERE path = '';"
    )


def largest_filter() -> dict[str, Any]:
    """The largest filter the limits allow: as many `or` branches of `contains` as a
    filter may hold (Limits.max_filter_conditions), alternating name and country; the
    country strings as long as allowed (Limits.max_filter_string_length), a few of the
    name strings matching."""
    limits = settings.limits
    longest = "nowhere " * (limits.max_filter_string_length // 8)
    branches = [
        {"name": {"contains": f" {i}17"}}
        if i % 2
        else {"country": {"contains": longest[: limits.max_filter_string_length - 3] + str(i)}}
        for i in range(limits.max_filter_conditions)
    ]
    return {"or": branches}


def search_filter(conditions: int) -> dict[str, Any]:
    return {"or": [{"name": {"contains": f"no such company {i}"}} for i in range(conditions)]}


@pytest.fixture
async def quick_app(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 0.3 s query deadline and a 0.5 s import deadline, on the test
    database's pool (the ORM the session's app set up)."""
    config = dataclasses.replace(settings, query_timeout_seconds=0.3, import_timeout_seconds=0.5)
    quick = create_app(config)
    async with quick.router.lifespan_context(quick):
        transport = httpx.ASGITransport(app=quick, client=("10.0.0.2", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://quick") as http:
            yield http


# ------------------------------------------------------------------------ the engines


async def test_a_statement_past_its_deadline_is_stopped_and_the_connection_is_clean() -> None:
    # Given a statement that would run for minutes, under a 0.2 s deadline
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as raised, deadline_scope(0.2):
        await _db().execute_query_dict(ENDLESS)
    # Then it is stopped at the deadline, not when it finishes
    assert time.monotonic() - started < 2.0
    assert raised.value.extensions == {"code": "TIMEOUT"}
    # And the connections are clean: the next statements run, without a leftover limit
    assert await _db().execute_query_dict("SELECT 1 AS one") == [{"one": 1}]
    if IS_POSTGRES:
        shown = await _db().execute_query_dict("SHOW statement_timeout")
        assert shown == [{"statement_timeout": "0"}]
    with deadline_scope(5):
        assert await Company.all().count() == 0


async def test_no_statement_starts_after_the_deadline() -> None:
    with deadline_scope(0.05):
        await asyncio.sleep(0.1)
        with pytest.raises(QueryTimeout):
            await Company.all().count()


async def test_a_transaction_past_its_deadline_is_rolled_back_whole() -> None:
    from tortoise.transactions import in_transaction

    with pytest.raises(QueryTimeout), deadline_scope(0.3):
        async with in_transaction():
            await Company.create(name="Written first")
            await _db().execute_query_dict(ENDLESS)
    assert not await Company.filter(name="Written first").exists()
    # The writer is free again
    await Company.create(name="Written after")
    assert await Company.filter(name="Written after").exists()


async def test_a_cancelled_task_stops_its_statement() -> None:
    # A client that leaves cancels its request's task: its statement must stop too,
    # or it would hold a connection (SQLite: the only writer or a reader) for minutes.
    with deadline_scope(60):
        task = asyncio.ensure_future(_db().execute_query_dict(ENDLESS))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    started = time.monotonic()
    with deadline_scope(5):
        for _ in range(10):  # every reader connection answers at once
            assert await _db().execute_query_dict("SELECT 2 AS two") == [{"two": 2}]
    assert time.monotonic() - started < 2.0


@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's reader connections")
async def test_sqlite_reads_do_not_queue_behind_a_slow_read() -> None:
    with deadline_scope(3):
        slow = asyncio.ensure_future(_db().execute_query_dict(ENDLESS))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        assert await Company.all().count() == 0
        await Company.create(name="Written meanwhile")  # the writer is free as well
        quick = time.monotonic() - started
        with pytest.raises(QueryTimeout):
            await slow
    assert quick < 0.5, quick


# ------------------------------------------------------------------------- over HTTP


async def test_a_slow_query_gets_timeout_and_the_next_request_works(
    loadadmin: Api, quick_app: httpx.AsyncClient
) -> None:
    # Given many companies with long names, and a filter of many `contains`
    await make_companies(LOAD_COMPANIES, name_width=190)
    headers = {"Authorization": f"Bearer {loadadmin.tokens['loadadmin']}"}
    body = {"query": BIG_QUERY, "variables": {"filter": search_filter(50)}}
    # When it runs under a 0.3 s deadline
    started = time.monotonic()
    response = await quick_app.post("/graphql", json=body, headers=headers)
    elapsed = time.monotonic() - started
    # Then the client gets TIMEOUT (HTTP 200 with errors, like any GraphQL error),
    assert response.status_code == 200, response.text
    assert "TIMEOUT" in error_codes(response.json()), response.json()
    assert elapsed < 3.0, elapsed
    # and the next requests on the same pool work
    for _ in range(3):
        again = await quick_app.post("/graphql", json={"query": VIEWER}, headers=headers)
        assert "errors" not in again.json(), again.json()


async def test_an_import_that_hits_its_deadline_writes_nothing(
    loadadmin: Api, quick_app: httpx.AsyncClient
) -> None:
    from tests.csvdata import SPEC_COLUMNS, company_row, import_mutation, to_csv

    # Given a file big enough to take longer than the 0.5 s import deadline
    rows = [company_row(f"Imported {i:05}", country="Spain") for i in range(20_000)]
    operations = {
        "query": import_mutation("companyImport"),
        "operationName": "Import",
        "variables": {"file": None, "dryRun": False, "partial": False},
    }
    response = await quick_app.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("big.csv", to_csv([SPEC_COLUMNS, *rows]), "text/csv")},
        headers={"Authorization": f"Bearer {loadadmin.tokens['loadadmin']}"},
    )
    # Then the mutation fails with TIMEOUT and nothing of it is written
    assert response.status_code == 200, response.text
    assert error_codes(response.json()) == ["TIMEOUT"], response.json()
    assert await Company.filter(name__startswith="Imported ").count() == 0
    # and the next write works
    assert (await loadadmin.data(VIEWER, as_user="loadadmin"))["viewer"]["id"]


async def test_an_export_past_its_deadline_is_a_timeout_error(
    loadadmin: Api, app: Starlette
) -> None:
    await make_companies(LOAD_COMPANIES, name_width=190)
    config = dataclasses.replace(settings, export_timeout_seconds=0.2)
    quick = create_app(config)
    filter_json = json.dumps(search_filter(50))
    async with quick.router.lifespan_context(quick):
        transport = httpx.ASGITransport(app=quick, client=("10.0.0.2", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://quick") as http:
            response = await http.get(
                "/export/companies.csv",
                params={"filter": filter_json},
                headers={"Authorization": f"Bearer {loadadmin.tokens['loadadmin']}"},
            )
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


# ---------------------------------------------------------------- real uvicorn, load


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serving_at(tmp_path) as base:
        yield base


@pytest.mark.load
async def test_load_largest_filter_within_deadline_and_viewer_within_a_second(
    loadadmin: Api, server: str
) -> None:
    # Given 20,000 companies and the server under uvicorn in its own process
    started = time.monotonic()
    await make_companies(LOAD_COMPANIES)
    generated = time.monotonic() - started
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation { login(username: "loadadmin", password: '
                '"loadadmin-secret") { token } }'
            },
        )
        token = login.json()["data"]["login"]["token"]

        # When a client runs the largest filter the limits allow
        async def big() -> tuple[float, Any]:
            begun = time.monotonic()
            body = await post(http, BIG_QUERY, token, filter=largest_filter())
            return time.monotonic() - begun, body

        bigs = [asyncio.ensure_future(big())]
        await asyncio.sleep(0.3)
        # Then a concurrent `viewer` answers within a second, again and again
        latencies = []
        while not all(b.done() for b in bigs) or not latencies:
            begun = time.monotonic()
            body = await post(http, VIEWER, token)
            latencies.append(time.monotonic() - begun)
            assert "errors" not in body, body
            await asyncio.sleep(0.1)
        # And the big queries finish within the deadline, with their answers
        results = [await b for b in bigs]
    for elapsed, body in results:
        assert "errors" not in body, body
        assert body["data"]["companies"]["totalCount"] > 0
        assert elapsed < 10, elapsed
    print(
        f"\nload ({'PostgreSQL' if IS_POSTGRES else 'SQLite'}): {LOAD_COMPANIES} companies "
        f"generated in {generated:.2f}s; largest filter "
        f"{', '.join(f'{e:.2f}s' for e, _ in results)}; viewer p-max "
        f"{max(latencies) * 1000:.0f} ms over {len(latencies)} requests"
    )
    assert max(latencies) < 1.0, latencies


@pytest.mark.load
@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's single-writer lock")
async def test_cli_import_while_the_server_writes(
    loadadmin: Api, server: str, tmp_path: Path
) -> None:
    from tests.csvdata import SPEC_COLUMNS, company_row, to_csv

    # Given the server and a CSV file of 3,000 companies
    source = tmp_path / "companies.csv"
    source.write_bytes(
        to_csv([SPEC_COLUMNS, *(company_row(f"From CLI {i:05}") for i in range(3_000))])
    )
    env = {**os.environ, "CRM_DATABASE_URL": DATABASE_URL, "CRM_DATA_DIR": str(tmp_path)}
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation { login(username: "loadadmin", password: '
                '"loadadmin-secret") { token } }'
            },
        )
        token = login.json()["data"]["login"]["token"]
        # When the CLI imports while clients create companies through the server
        cli = await asyncio.create_subprocess_exec(
            *CLI,
            "import",
            "companies",
            str(source),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        created = 0
        create = (
            "mutation New($name: String!) { companyCreate(input: {name: $name}) "
            "{ company { id } errors { code message } } }"
        )
        communicate = asyncio.ensure_future(cli.communicate())
        while not communicate.done() or created < 5:
            body = await post(http, create, token, name=f"From server {created}")
            assert "errors" not in body, body
            assert body["data"]["companyCreate"]["errors"] == [], body
            created += 1
            await asyncio.sleep(0.02)
        out, err = await communicate
    # Then both succeed: nobody gets "database is locked"
    assert cli.returncode == 0, (out.decode(), err.decode())
    assert await Company.filter(name__startswith="From CLI ").count() == 3_000
    assert await Company.filter(name__startswith="From server ").count() == created


async def _busy_statements() -> int:
    """PostgreSQL: statements of other sessions of this database still running over
    companies (other databases on the server are other suites' business)."""
    rows = await _db().execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' "
        "AND datname = current_database() "
        "AND pid <> pg_backend_pid() AND query ILIKE '%companies%'"
    )
    return int(rows[0]["n"])


@pytest.mark.load
async def test_a_client_that_leaves_stops_its_work(loadadmin: Api, tmp_path: Path) -> None:
    # Given a filter whose every statement runs for many seconds, and a server with
    # one SQLite reader connection
    await make_companies(3 * LOAD_COMPANIES, name_width=190)
    slow_filter = {"or": [{"search": f"nothing like {i}"} for i in range(50)]}
    with serving_at(tmp_path, CRM_SQLITE_READ_CONNECTIONS="1") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            token = await loadadmin_token(http)
            # When the client gives up on it after half a second
            with pytest.raises(httpx.ReadTimeout):
                await http.post(
                    "/graphql",
                    json={"query": BIG_QUERY, "variables": {"filter": slow_filter}},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=0.5,
                )
            await asyncio.sleep(0.5)
            # Then its statement no longer runs: the only reader answers at once
            started = time.monotonic()
            body = await post(http, VIEWER, token)
            waited = time.monotonic() - started
            assert "errors" not in body, body
            assert waited < 1.0, waited
            if IS_POSTGRES:
                assert await _busy_statements() == 0


@pytest.mark.parametrize(
    ("sql", "reads_only"),
    [
        ("SELECT 1", True),
        ("  \n select id FROM companies", True),
        ("/* planned */ -- note\nSELECT 1", True),
        ("WITH c AS (SELECT 1) SELECT * FROM c", True),
        ("WITH c AS (SELECT 1) UPDATE companies SET version = 2", False),
        ('INSERT INTO "companies" ("name") VALUES (?) RETURNING "id"', False),
        ("UPDATE companies SET name = 'x'", False),
        ("DELETE FROM companies", False),
        ("PRAGMA foreign_keys=OFF", False),
    ],
)
def test_sqlite_routes_only_pure_reads_to_reader_connections(sql: str, reads_only: bool) -> None:
    from crm_graphql.services.sqlite_engine import is_read_only

    assert is_read_only(sql) is reads_only
