"""Schema migrations (Tortoise's built-in engine) and database health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate as tortoise_migrate
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor


async def apply_migrations(config: dict[str, Any]) -> list[str]:
    """Apply every pending migration, in its own ORM context; returns the names of the
    migrations applied (empty when the database was up to date)."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await tortoise_migrate(config=config, progress=progress)
        await Tortoise.close_connections()
    return applied


async def pending_migrations(config: dict[str, Any]) -> list[str]:
    """Names of the migrations not yet applied to the database (all of them on an
    empty one); reads only, creates nothing."""
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        try:
            connection = get_connection("default")
            # The recorder reads an unreachable database as an empty one: ask first.
            await connection.execute_query("SELECT 1")
            executor = MigrationExecutor(connection, config["apps"])
            plan = await executor.plan()
        finally:
            await Tortoise.close_connections()
    return [step.migration.name for step in plan if not step.backward]


async def unmigrated_changes(config: dict[str, Any]) -> list[str]:
    """Names of migrations `makemigrations` would write now; empty when none."""
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
        await Tortoise.close_connections()
    return [f"{w.app_label}.{w.name}" for w in writers]


async def database_ready() -> bool:
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True


async def database_now() -> datetime:
    """The database server's clock, for claims and leases several machines compare
    (each machine's own clock may be off). PostgreSQL: `clock_timestamp()` (the wall
    time, also inside a transaction). SQLite: this machine's clock, the only one that
    can reach the file."""
    connection = get_connection("default")
    if connection.capabilities.dialect != "postgres":
        return datetime.now(UTC)
    rows = await connection.execute_query_dict("SELECT clock_timestamp() AS now")
    return rows[0]["now"].astimezone(UTC)
