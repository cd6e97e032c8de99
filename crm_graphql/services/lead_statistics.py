"""Lead statistics and the lead pipeline (SPEC §7): each one SQL statement over a set of
leads.

The set is a queryset the caller has narrowed to the leads the viewer can see that match
the filter. Statistics count closed leads too (they do not apply the lists' open-only
default); the pipeline asks for the steps it shows. Every statement reads the set's rows
(`_rows_sql`: the set's own query, or `leads WHERE id IN (the set)` when the filter joins
another table, so a join can never count a lead twice), sent without the model's default
ORDER BY. Amounts are integer cents summed per currency: different currencies are never
added together. Dates are bucketed in UTC with each dialect's own functions (SQLite date
modifiers, PostgreSQL date_trunc); weeks are ISO weeks, starting on Monday."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from pypika_tortoise import SqlContext
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from crm_graphql.models.leads import CLOSED_FROM, PROGRESS_NAMES, WON, Lead
from crm_graphql.services.aggregate_catalog import LEADS, Kind
from crm_graphql.services.aggregate_plan import Dimension, Measure, Plan
from crm_graphql.services.aggregates import all_groups
from crm_graphql.services.listing import SortKey
from crm_graphql.services.orm import compiled, from_row, joins_other_tables, subquery_sql
from crm_graphql.values import cents_to_decimal

TOP = 10
# Every progress step in code order, and the open and closed ones.
STEPS: tuple[int, ...] = tuple(sorted(PROGRESS_NAMES))
OPEN_STEPS: tuple[int, ...] = tuple(s for s in STEPS if s < CLOSED_FROM)
CLOSED_STEPS: tuple[int, ...] = tuple(s for s in STEPS if s >= CLOSED_FROM)
RATE_PLACES = Decimal("0.01")


class Bucket(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Sales:
    """The estimated sales of some leads in one currency."""

    currency: str
    amount: Decimal


@dataclass(frozen=True)
class Group:
    """Leads sharing one value of `key` (a channel, a country, an owner id, a progress
    code): how many, and their estimated sales per currency (by currency code)."""

    key: Any
    count: int
    sales: tuple[Sales, ...]


@dataclass(frozen=True)
class Period:
    """Leads created in the bucket starting on `start`."""

    start: date
    count: int


class _UnorderedSubquery(Subquery):
    """A subquery without the model's default ORDER BY, which Tortoise always adds."""

    def get_sql(self, ctx: SqlContext) -> str:
        return subquery_sql(self.query, ctx)


def scoped(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """The leads of the set, each once (`id IN (the set)`), as a queryset."""
    return Lead.filter(id__in=_UnorderedSubquery(leads.values("id")))


def _rows_sql(leads: QuerySet[Lead]) -> tuple[str, list[Any], BaseDBAsyncClient]:
    """SQL reading the set's leads (every column), each once and unordered, with its
    parameters and connection. That is the set's own query when it joins nothing (the
    lead rule and most filters): both databases then aggregate straight over the table,
    where `id IN (the set)` costs a second pass over it (at a million leads on
    PostgreSQL, byChannel 422 -> about 140 ms, see bench/README.md). A filter that joins
    another table (owner, company, custom values) could repeat a lead, so the set is then
    read as `leads WHERE id IN (the set)`."""
    query = leads.all()  # a clone: the caller's queryset is shared by every field
    if joins_other_tables(query):
        query = scoped(leads)
    return compiled(query, ordered=False)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _money(cents: Any) -> Decimal:
    # SUM of a BIGINT is an integer on SQLite and a NUMERIC (Decimal) on PostgreSQL.
    return cents_to_decimal(int(cents or 0))


async def _grouped(leads: QuerySet[Lead], field: str) -> list[Group]:
    """ONE statement: count and estimated cents of the set per (`field`, currency), the
    generic aggregate's (so a statistic and `leadsAggregate` never disagree), folded
    into one Group per key value (folding aggregate rows, not leads)."""
    plan = Plan(
        dimensions=(Dimension(field),),
        measures=(Measure("COUNT", name="n"), Measure("SUM", "ESTIMATED_SALE", "cents")),
    )
    numeric = LEADS.fields[field].kind in (Kind.INT, Kind.REF)
    counts: dict[Any, int] = defaultdict(int)
    sales: dict[Any, list[Sales]] = defaultdict(list)
    for group in await all_groups(LEADS, leads, plan):
        raw = group.keys[0].value
        key = int(raw) if numeric and raw is not None else raw
        counts[key] += int(group.values["n"] or 0)
        amount = group.values["cents"]
        sales[key].append(
            Sales(group.currency or "", amount if isinstance(amount, Decimal) else _money(0))
        )
    return [
        Group(key, count, tuple(sorted(sales[key], key=lambda s: s.currency)))
        for key, count in counts.items()
    ]


async def by_channel(leads: QuerySet[Lead]) -> list[Group]:
    """Leads per channel (empty when not set), most first, then by channel."""
    return sorted(await _grouped(leads, "CHANNEL"), key=lambda g: (-g.count, g.key))


async def by_country(leads: QuerySet[Lead]) -> list[Group]:
    """Leads per country (empty when not set), most first, then by country."""
    return sorted(await _grouped(leads, "COUNTRY"), key=lambda g: (-g.count, g.key))


async def by_owner(leads: QuerySet[Lead]) -> list[Group]:
    """Leads per owner id (None: unowned), most first, then by owner id, unowned last."""
    groups = await _grouped(leads, "OWNER")
    return sorted(groups, key=lambda g: (-g.count, g.key is None, g.key or 0))


async def funnel(leads: QuerySet[Lead]) -> list[Group]:
    """Every progress step in code order, steps without leads included."""
    found = {g.key: g for g in await _grouped(leads, "PROGRESS")}
    return [found.get(step) or Group(step, 0, ()) for step in STEPS]


def conversion_rate(total: int, won: int) -> Decimal | None:
    """won / total * 100, half up to 2 places; None without leads (no rate to give)."""
    if total == 0:
        return None
    return (Decimal(won) * 100 / Decimal(total)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


async def conversion(leads: QuerySet[Lead]) -> tuple[int, int]:
    """(all leads, won leads) of the set, one statement."""
    rows, params, connection = _rows_sql(leads)
    sql = (
        f"SELECT COUNT(*) AS n, "  # noqa: S608
        f"COALESCE(SUM(CASE WHEN l.progress = {int(WON)} THEN 1 ELSE 0 END), 0) AS won "
        f"FROM ({rows}) l"
    )
    row = (await connection.execute_query_dict(sql, params))[0]
    return int(row["n"]), int(row["won"])


async def top_open(leads: QuerySet[Lead], limit: int = TOP) -> list[Lead]:
    """The open leads with the largest estimated sales (compared as numbers, whatever
    their currency), then by id. The ranking reads only the ids and amounts, then the
    winners' rows are read by id: sorting whole rows was twice as slow at a million."""
    rows, params, connection = _rows_sql(leads)
    sql = (
        f"SELECT l.* FROM leads l WHERE l.id IN (SELECT r.id FROM ({rows}) r "  # noqa: S608
        f"WHERE r.progress < {int(CLOSED_FROM)} "
        f"ORDER BY r.estimated_sale_cents DESC, r.id LIMIT {int(limit)}) "
        "ORDER BY l.estimated_sale_cents DESC, l.id"
    )
    return [from_row(Lead, row) for row in await connection.execute_query_dict(sql, params)]


async def new_over_time(leads: QuerySet[Lead], bucket: Bucket) -> list[Period]:
    """Leads created per bucket (UTC; a week starts on Monday), oldest first; buckets
    without new leads are left out. ONE statement: the generic aggregate's date bucket,
    so this statistic and `leadsAggregate` never disagree."""
    plan = Plan(
        dimensions=(Dimension("CREATED_AT", bucket=bucket.value),),
        measures=(Measure("COUNT", name="n"),),
    )
    groups = await all_groups(LEADS, leads, plan)
    periods = [
        Period(start=date.fromisoformat(str(g.keys[0].value)), count=int(g.values["n"] or 0))
        for g in groups
    ]
    return sorted(periods, key=lambda p: p.start)


# ---------------------------------------------------------------------------------------
# The pipeline


def pipeline_steps(include_closed: bool) -> tuple[int, ...]:
    """The steps a pipeline shows: the open ones always, the closed ones on request."""
    return STEPS if include_closed else OPEN_STEPS


async def pipeline_totals(leads: QuerySet[Lead], steps: Sequence[int]) -> dict[int, Group]:
    """Count and estimated sales per step (of `steps`), one GROUP BY statement over
    every step: the others are dropped here, as `progress IN (open steps)` made SQLite
    read two thirds of the leads through the progress index, one by one."""
    return {g.key: g for g in await _grouped(leads, "PROGRESS") if g.key in steps}


async def pipeline_leads(
    leads: QuerySet[Lead], steps: Sequence[int], keys: Sequence[SortKey], first: int
) -> dict[int, list[Lead]]:
    """The first `first` leads of each step in `keys` order (plus one, to tell whether
    more follow), in ONE statement for all steps: the set as a common table expression,
    and per step `WHERE progress = step ORDER BY keys LIMIT first + 1`, glued with
    UNION ALL. Each part stops after a few rows read through an index; a window function
    (`listing.fetch_per_parent`) numbers every lead of the set first, which took 2.5 s
    at a million leads on PostgreSQL (bench/README.md). NOT MATERIALIZED lets both
    databases push each step's condition into the set's query."""
    rows, params, connection = _rows_sql(leads)
    columns = Lead._meta.fields_db_projection
    order = ", ".join(
        f"{_quote(columns[k.column])} {'DESC' if k.descending else 'ASC'}" for k in keys
    )
    parts = " UNION ALL ".join(
        f"SELECT * FROM (SELECT * FROM s WHERE progress = {int(step)} "  # noqa: S608
        f"ORDER BY {order} LIMIT {int(first) + 1}) p{i}"
        for i, step in enumerate(steps)
    )
    sql = (
        f"WITH s AS NOT MATERIALIZED ({rows}) "  # noqa: S608
        f"SELECT * FROM ({parts}) u ORDER BY progress, {order}"
    )
    found: dict[int, list[Lead]] = defaultdict(list)
    for row in await connection.execute_query_dict(sql, params):
        lead = from_row(Lead, row)
        found[lead.progress].append(lead)
    return found
