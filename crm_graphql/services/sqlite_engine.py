"""The embedded SQLite engine: Tortoise's, with Unicode-aware UPPER and LOWER.

SQLite's built-in UPPER folds ASCII only, so `contains` (UPPER(col) LIKE UPPER(?))
would not match "José" with "JOSÉ". Spanish and other accented names are everyday CRM
data, so both functions are replaced by Python's on every connection."""

from __future__ import annotations

from typing import Any

from tortoise.backends.sqlite.client import SqliteClient


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class UnicodeSqliteClient(SqliteClient):
    async def _post_connect(self) -> None:
        await super()._post_connect()
        assert self._connection is not None
        await self._connection.create_function("upper", 1, _upper, deterministic=True)
        await self._connection.create_function("lower", 1, _lower, deterministic=True)


client_class = UnicodeSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return UnicodeSqliteClient
