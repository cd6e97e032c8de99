"""Fetching pages: one page after a cursor with a lazy total count, and the first rows
of each parent (nested lists) or their counts, one statement each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.services.listing.cursors import (
    SortKey,
    decode_cursor,
    encode_cursor,
    keyset_q,
    order_args,
)
from crm_graphql.services.orm import compiled, from_row

M = TypeVar("M", bound=Model)


@dataclass
class Page(Generic[M]):
    rows: list[M]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    count: Callable[[], Awaitable[int]]


async def fetch_page(
    queryset: QuerySet[M],
    keys: Sequence[SortKey],
    first: int,
    after: str | None,
) -> Page[M]:
    """One page after `after` (a keyset cursor), plus a lazy total count of `queryset`."""
    model = queryset.model
    page_q = queryset
    if after:
        page_q = page_q.filter(keyset_q(keys, decode_cursor(model, after, keys)))
    rows = await page_q.order_by(*order_args(keys)).limit(first + 1)
    has_next = len(rows) > first
    rows = rows[:first]

    async def count() -> int:
        return await queryset.count()

    return Page(
        rows=rows,
        cursors=[encode_cursor(r, keys) for r in rows],
        has_next=has_next,
        has_previous=bool(after),
        count=count,
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def fetch_per_parent(
    queryset: QuerySet[M],
    parent_column: str,
    keys: Sequence[SortKey],
    limit: int,
) -> dict[Any, list[M]]:
    """For each parent, its first `limit` rows of `queryset` in `keys` order, in ONE
    statement: ROW_NUMBER() OVER (PARTITION BY parent ORDER BY keys) <= limit.

    Fetches `limit + 1` so callers can tell whether a parent has more."""
    model = queryset.model
    inner_sql, params, connection = compiled(queryset)
    columns = model._meta.fields_db_projection
    order = ", ".join(
        f"t.{_quote(columns[k.column])} {'DESC' if k.descending else 'ASC'}" for k in keys
    )
    parent_db = _quote(model._meta.fields_db_projection[parent_column])
    sql = (
        f"SELECT * FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.{parent_db} "  # noqa: S608
        f"ORDER BY {order}) AS crm_rn FROM ({inner_sql}) t) ranked "
        f"WHERE crm_rn <= {int(limit) + 1} ORDER BY {parent_db}, crm_rn"
    )
    result: dict[Any, list[M]] = defaultdict(list)
    for row in await connection.execute_query_dict(sql, params):
        row.pop("crm_rn", None)
        instance = from_row(model, row)
        result[getattr(instance, parent_column)].append(instance)
    return result


async def count_per_parent(queryset: QuerySet[M], parent_column: str) -> dict[Any, int]:
    """Row counts per parent, one GROUP BY statement."""
    from tortoise.functions import Count

    rows = (
        await queryset.annotate(n=Count("id"))
        .group_by(parent_column)
        .order_by()
        .values(parent_column, "n")
    )
    return {row[parent_column]: row["n"] for row in rows}
