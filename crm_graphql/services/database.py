"""Schema migrations (Tortoise's built-in engine) and database health."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate as tortoise_migrate
from tortoise.migrations.autodetector import MigrationAutodetector


async def apply_migrations(config: dict[str, Any]) -> None:
    """Apply every pending migration, in its own ORM context."""
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await tortoise_migrate(config=config)
        await Tortoise.close_connections()


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
