"""Test harness: one real database for the session (SQLite file by default, PostgreSQL
when CRM_TEST_DATABASE_URL says so), migrated from zero, emptied between tests; the app
under test driven over HTTP through httpx's ASGI transport, lifespan included."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="crm-tests-"))
os.environ["CRM_DATA_DIR"] = str(_tmp / "data")
os.environ["CRM_DATABASE_URL"] = os.environ.get("CRM_TEST_DATABASE_URL") or (
    f"sqlite://{_tmp / 'test.sqlite3'}"
)
os.environ.setdefault("CRM_MODE", "development")
# Low argon2 cost keeps the suite fast; production uses the library defaults.
os.environ.setdefault("CRM_ARGON2_FAST", "1")
# Tests drive the outbox and the mailbox poller themselves; one test runs the loops.
os.environ.setdefault("CRM_MAIL_WORKERS", "0")
# Likewise the webhook delivery loop (tests run its passes, or a real server runs it).
os.environ.setdefault("CRM_WEBHOOK_WORKERS", "0")
# Invoice PDFs render after commit: a mutation waits for its PDF, as tests expect it at
# once. The file store tests choose the database store themselves.
os.environ.setdefault("CRM_PDF_WAIT_SECONDS", "30")
os.environ.setdefault("CRM_FILE_STORE", "filesystem")
# Token lookups are not reused: many tests change users, bits and tokens in the
# database directly and expect the next request to see it; tests/test_auth_cache.py
# runs apps with the cache on.
os.environ.setdefault("CRM_AUTH_CACHE_SECONDS", "0")

import httpx  # noqa: E402
import pytest  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from crm_graphql.app import create_app  # noqa: E402
from crm_graphql.services.auth import token_cache  # noqa: E402
from crm_graphql.services.bootstrap import ensure_defaults  # noqa: E402
from crm_graphql.services.database import apply_migrations  # noqa: E402
from crm_graphql.settings import settings, tortoise_config  # noqa: E402
from tests.differential import (  # noqa: E402
    DIFFERENTIAL,
    STATS,
    Differential,
    build_world,
    client_of,
    differential,
)
from tests.factories import Api, make_user  # noqa: E402

# Real SMTP (aiosmtpd) and IMAP (Dovecot) servers: `smtp_server`, `dovecot`.
pytest_plugins = ["tests.mailservers"]

DATABASE_URL = os.environ["CRM_DATABASE_URL"]
IS_POSTGRES = DATABASE_URL.startswith(("postgres", "asyncpg"))


@pytest.fixture(scope="session")
async def app() -> AsyncIterator[Starlette]:
    await apply_migrations(tortoise_config(DATABASE_URL))
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _empty_database() -> None:
    connection = Tortoise.get_connection("default")
    tables = [m._meta.db_table for m in Tortoise.apps["crm"].values()]
    if IS_POSTGRES:
        quoted = ", ".join(f'"{t}"' for t in tables)
        await connection.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        script = "".join(f'DELETE FROM "{t}";' for t in tables)
        await connection.execute_script(
            "PRAGMA foreign_keys=OFF;" + script + "DELETE FROM sqlite_sequence;"
            "PRAGMA foreign_keys=ON;"
        )


@pytest.fixture(autouse=True)
async def clean_db(app: Starlette) -> AsyncIterator[None]:
    token_cache.forget()
    await _empty_database()
    await ensure_defaults()
    yield


class _CompiledFailures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("compiled read path failed"):
            self.messages.append(self.format(record))


@pytest.fixture(autouse=True)
def compiled_path_never_fails() -> Iterator[None]:
    """The compiled read path falls back to the executor on an unexpected exception
    (the client sees no difference), so a test fails on the logged exception itself."""
    handler = _CompiledFailures()
    logger = logging.getLogger("crm_graphql")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.messages, handler.messages[0]


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture(scope="session")
async def other_path(app: Starlette) -> AsyncIterator[httpx.AsyncClient | None]:
    """With CRM_DIFFERENTIAL=1: a client of an app on the other read path (compiled
    reads off when the suite's app has them on, and the reverse)."""
    if not DIFFERENTIAL:
        yield None
        return
    config = replace(settings, compiled_reads=not settings.compiled_reads)
    async with client_of(config, "other") as http:
        yield http


@pytest.fixture
async def paths() -> AsyncIterator[Differential]:
    """Two apps on the test database, compiled reads on and off (tests/differential.py)."""
    async with differential() as both:
        yield both


@pytest.fixture
def api(client: httpx.AsyncClient, other_path: httpx.AsyncClient | None) -> Api:
    if other_path is None:
        return Api(client)
    # Every query this client sends is compared with the other path's answer.
    compiled, interpreted = (
        (client, other_path) if settings.compiled_reads else (other_path, client)
    )
    return Api(client, Differential(compiled, interpreted, settings.compiled_reads))


@pytest.fixture
async def world() -> dict[str, str]:
    """The differential world (`build_world`): a token per viewer of VIEWERS. Modules
    with a world of their own define their own `world`."""
    return await build_world()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if DIFFERENTIAL:
        terminalreporter.write_line(
            f"differential: {STATS['compared']} read operations compared on both paths"
        )


@pytest.fixture
async def demo(api: Api) -> Api:
    """The sample world of SPEC §2 loaded; tokens for each demo user on `api.tokens`."""
    from crm_graphql.services.demo import load_demo

    for username, password in await load_demo(sample_data=False):
        api.tokens[username] = await api.login(username, password)
    return api


@pytest.fixture
async def loadadmin(api: Api) -> Api:
    """`api` with the superadmin "loadadmin" (password "loadadmin-secret") logged in."""
    await make_user("loadadmin", password="loadadmin-secret", superadmin=True)
    api.tokens["loadadmin"] = await api.login("loadadmin", "loadadmin-secret")
    return api


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """`crm-graphql demo`, then `crm-graphql serve` on the test database in a child
    process under uvicorn; yields its base URL."""
    # Imported here: tests.uvicorn_servers imports this module.
    from tests.uvicorn_servers import CLI, server_env, serving

    env = server_env(tmp_path)
    demo = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "user1" in demo.stdout and "manager1" in demo.stdout
    with serving(env) as (base, _):
        yield base
