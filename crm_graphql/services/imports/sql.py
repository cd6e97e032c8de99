"""The statements an import writes with: raw `executemany` INSERTs and UPDATEs (a model
instance per row would cost more than the statement), and lookups that fit the column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import JSONField
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.matching import MatchKeys


def _placeholder(connection: BaseDBAsyncClient) -> Callable[[int], str]:
    if connection.capabilities.dialect == "postgres":
        return lambda n: f"${n}"
    return lambda n: "?"


def _update_sql(connection: BaseDBAsyncClient, table: str, columns: Sequence[str]) -> str:
    """UPDATE of `columns` plus the change stamp and version, by id, for executemany."""
    mark = _placeholder(connection)
    stamp = "last_update" if table == Company._meta.db_table else "updated_at"
    sets = [f"{c} = {mark(i)}" for i, c in enumerate((*columns, stamp), start=1)]
    where = mark(len(columns) + 2)
    return f"UPDATE {table} SET {', '.join(sets)}, version = version + 1 WHERE id = {where}"  # noqa: S608  (names are ours)


async def update_rows(
    conn: BaseDBAsyncClient,
    model: type[Model],
    columns: Sequence[str],
    updates: Sequence[tuple[Any, ...]],
    now: Any,
) -> None:
    """Write the planned updates (row, current, ...) of `model`: one executemany."""
    if not updates:
        return
    # The duplicate-matching keys of the columns written (models/matching.py).
    keyed = model if issubclass(model, MatchKeys) else None
    keys = list(keyed.keys_for(dict.fromkeys(columns))) if keyed else []
    values = []
    for row, current, *_ in updates:
        derived = keyed.keys_for(row.data) if keyed else {}
        values.append(
            [*(row.data[k] for k in columns), *(derived[k] for k in keys), now, current["id"]]
        )
    await execute_many(conn, _update_sql(conn, model._meta.db_table, [*columns, *keys]), values)


async def insert_rows(
    conn: BaseDBAsyncClient, model: type[Model], rows: list[dict[str, Any]]
) -> None:
    """INSERT `rows` (dicts with the same keys) with one executemany. Columns the rows
    leave out get the model's Python-side defaults, as `Model(...)` would; building a
    model instance per row would cost more than the whole statement."""
    if not rows:
        return
    meta = model._meta
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for name in meta.fields_db_projection:
        column = meta.fields_map[name]
        if column.pk and column.generated:
            continue
        if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            defaults[name] = now
        elif column.default is not None:
            defaults[name] = column.default() if callable(column.default) else column.default
    if issubclass(model, MatchKeys):  # duplicate-matching keys (models/matching.py)
        rows = [{**row, **model.keys_for({**defaults, **row})} for row in rows]
    names = list({**defaults, **rows[0]})
    encoded = [
        (i, meta.fields_map[n])
        for i, n in enumerate(names)
        if isinstance(meta.fields_map[n], JSONField)
    ]
    mark = _placeholder(conn)
    columns = ", ".join(meta.fields_db_projection[n] for n in names)
    marks = ", ".join(mark(i) for i in range(1, len(names) + 1))
    values = []
    for row in rows:
        merged = {**defaults, **row}
        line = [merged[n] for n in names]
        for i, column in encoded:
            line[i] = column.to_db_value(line[i], model)
        values.append(line)
    await execute_many(conn, f"INSERT INTO {meta.db_table} ({columns}) VALUES ({marks})", values)  # noqa: S608  (names are the model's)


async def plan_cache(conn: BaseDBAsyncClient, mode: str) -> None:
    """PostgreSQL: the chunk lookups are prepared statements with 1,000-item IN lists.
    After five runs PostgreSQL may switch one to a generic plan made while the table was
    small (a sequential scan) and keep it while the import grows the table (40 times
    slower at 100,000 rows). The import's transaction uses custom plans, except around
    an executemany, whose every row would otherwise be planned again."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"SET LOCAL plan_cache_mode = {mode}")


async def execute_many(conn: BaseDBAsyncClient, sql: str, values: list[list[Any]]) -> None:
    await plan_cache(conn, "auto")
    await conn.execute_many(sql, values)
    await plan_cache(conn, "force_custom_plan")


def fitting(model: type[Any], column: str, values: Any) -> list[Any]:
    """The lookup values that fit the column: a longer one matches no row (its row is
    refused as TOO_LARGE by the row checks), and Tortoise refuses to compare it."""
    limit = model._meta.fields_map[column].max_length
    return [v for v in values if len(v) <= limit]
