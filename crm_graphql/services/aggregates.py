"""Generic aggregates (issue 17): the rows of an entity the viewer may see that match
a list filter, grouped by up to three dimensions, with counts and sums per group.

The caller hands over the set as a queryset (visibility and filter applied, exactly as
the list builds it) and a `Plan`; `run` sends ONE statement:

    SELECT <page of groups, labels joined> UNION ALL SELECT <totals>

The groups are `GROUP BY` over the set's rows (read as `id IN (the set)` when the
filter joins another table, so no row counts twice), numbered with `ROW_NUMBER()` in the
requested order, cut to the page, and joined to the label tables (company name, user
name, role, type, tag) in the same statement. `COUNT(*) OVER ()` gives the number of
groups; the totals branch aggregates the set again without the dimensions' joins.
Money is never added across currencies: a money measure adds the currency as a group
key (and the totals are per currency). Averages are a sum and a count, divided in
Python with Decimal, so both databases give the same digits."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, replace
from typing import Any

import orjson
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from crm_graphql.models.customfields import CustomField, CustomFieldKind
from crm_graphql.services.aggregate_catalog import Catalog, Kind
from crm_graphql.services.aggregate_plan import (
    HAVING_BOUND,
    MAX_DIMENSIONS,
    MAX_MEASURES,
    OPERATORS,
    AggregateError,
    DimSql,
    Group,
    Key,
    MeasureSql,
    Plan,
    Result,
    dimension_sql,
    measure_sql,
)
from crm_graphql.services.orm import compiled, joins_other_tables, subquery_sql


@dataclass
class _Built:
    sql: str
    params: list[Any]
    dims: list[DimSql]
    measures: list[MeasureSql]
    money: bool


def rows_sql(
    queryset: QuerySet[Any], columns: dict[str, Any] | None = None
) -> tuple[str, list[Any], Any]:
    """SQL reading the set's rows each once and unordered (every column, plus the
    `columns` annotations), with its parameters and connection: the set's own query, or
    `<table> WHERE id IN (the set)` when the filter joins another table."""
    query = queryset.all()
    if joins_other_tables(query):
        query = queryset.model.filter(id__in=_Unordered(queryset.values("id")))
    if columns:
        query = query.annotate(**columns)
    return compiled(query, ordered=False)


class _Unordered(Subquery):
    def get_sql(self, ctx: Any) -> str:
        return subquery_sql(self.query, ctx)


def build(
    catalog: Catalog,
    queryset: QuerySet[Any],
    plan: Plan,
    custom: dict[int, Any],
    columns: dict[str, Any] | None = None,
) -> _Built:
    """Check `plan` against the catalog and write its statement. `custom`: the usable
    custom fields of the entity by id (read by the caller); `columns`: annotations the
    catalog's expressions read (a lead's company as the viewer may see it)."""
    if len(plan.dimensions) > MAX_DIMENSIONS:
        raise AggregateError("groupBy", f"`groupBy`: at most {MAX_DIMENSIONS} dimensions.")
    if not plan.measures:
        raise AggregateError("measures", "`measures`: ask for at least one measure.")
    if len(plan.measures) > MAX_MEASURES:
        raise AggregateError("measures", f"`measures`: at most {MAX_MEASURES} measures.")
    rows, params, connection = rows_sql(queryset, columns)
    postgres = connection.capabilities.dialect == "postgres"
    dims = [
        dimension_sql(catalog, d, i, plan, custom, postgres) for i, d in enumerate(plan.dimensions)
    ]
    measures = [measure_sql(catalog, m, i) for i, m in enumerate(plan.measures)]
    names = [d.name for d in dims] + [m.name for m in measures]
    for name in names:
        if names.count(name) > 1:
            raise AggregateError("measures", f"Two dimensions or measures are named '{name}'.")
    money = any(
        m.kind == Kind.MONEY and m.function not in ("COUNT", "COUNT_DISTINCT") for m in measures
    )
    by_name = {m.name: (i, m) for i, m in enumerate(measures)}
    conditions = []
    for h, having in enumerate(plan.having):
        if having.measure not in by_name:
            raise AggregateError(
                f"having[{h}].measure",
                f"`having[{h}].measure`: '{having.measure}' is not one of the requested "
                f"measures ({', '.join(by_name)}).",
            )
        if not having.value.is_finite() or abs(having.value) >= HAVING_BOUND:
            raise AggregateError(f"having[{h}]", f"`having[{h}]`: the value is out of range.")
        i, m = by_name[having.measure]
        conditions.append(
            f"{m.over_groups(i)} {OPERATORS[having.operator]} {m.literal(having.value)}"
        )
    dim_index = {d.name: i for i, d in enumerate(dims)}
    order_sql = []
    for o, order in enumerate(plan.order):
        if order.name in dim_index:
            expr = f"g.k{dim_index[order.name]}"
        elif order.name in by_name:
            expr = by_name[order.name][1].over_groups(by_name[order.name][0])
        else:
            raise AggregateError(
                f"orderBy[{o}]", f"`orderBy[{o}]`: '{order.name}' names no dimension or measure."
            )
        order_sql.append(
            f"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr}"
            + (" DESC" if order.descending else "")
        )
    ties = [f"CASE WHEN g.k{i} IS NULL THEN 1 ELSE 0 END, g.k{i}" for i in range(len(dims))]
    if money:
        ties.append("g.kc")
    order_by = ", ".join(order_sql + ties) or "1"

    joins = _joins([*dims, *measures])
    keys = [f"{d.sql} AS k{i}" for i, d in enumerate(dims)]
    group_by = [d.sql for d in dims]
    if money:
        keys.append('r."currency" AS kc')
        group_by.append('r."currency"')
    measure_cols = [c for i, m in enumerate(measures) for c in m.columns(i)]
    grouped = (
        f"SELECT {', '.join(keys + measure_cols)} FROM ({rows}) r {joins}"  # noqa: S608
        + (f" GROUP BY {', '.join(group_by)}" if group_by else "")
    )
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    numbered = (
        f"SELECT g.*, COUNT(*) OVER () AS crm_groups, "  # noqa: S608
        f"ROW_NUMBER() OVER (ORDER BY {order_by}) AS crm_pos FROM ({grouped}) g{where}"
    )
    labels, label_cols = [], []
    for i, d in enumerate(dims):
        if d.label is not None:
            table, column = d.label
            labels.append(f'LEFT JOIN "{table}" l{i} ON l{i}."id" = p.k{i}')
            label_cols.append(f'l{i}."{column}" AS l{i}')
        else:
            label_cols.append(f"NULL AS l{i}")
    value_cols = [
        f"p.m{i}" + (f", p.c{i}" if m.function == "AVG" else "") for i, m in enumerate(measures)
    ]
    shared = [f"p.k{i}" for i in range(len(dims))] + (["p.kc"] if money else []) + value_cols
    low, high = int(plan.offset), int(plan.offset) + int(plan.first) + 1
    sql = (
        f"SELECT 0 AS crm_total, p.crm_pos, p.crm_groups, {', '.join(shared + label_cols)} "  # noqa: S608
        f"FROM ({numbered}) p {' '.join(labels)} "
        # The first group always comes too: it carries the number of groups past the end.
        f"WHERE (p.crm_pos > {low} AND p.crm_pos <= {high}) OR p.crm_pos = 1"
    )
    all_params = list(params)
    if plan.totals:
        total_joins = _joins(measures)
        total_cols = (
            ["1", "0", "NULL"]
            + ["NULL"] * len(dims)
            + (['r."currency"'] if money else [])
            + [c.split(" AS ")[0] for i, m in enumerate(measures) for c in m.columns(i)]
            + ["NULL"] * len(dims)
        )
        sql += (
            f" UNION ALL SELECT {', '.join(total_cols)} FROM ({rows}) r {total_joins}"  # noqa: S608
            + (' GROUP BY r."currency"' if money else "")
        )
        if not postgres:  # numbered parameters ($n) repeat; SQLite's `?` need them again
            all_params += params
    return _Built(sql, all_params, dims, measures, money)


def _joins(parts: list[Any]) -> str:
    seen: list[str] = []
    for part in parts:
        if part.join and part.join not in seen:
            seen.append(part.join)
    return " ".join(seen)


def _key_text(value: Any, kind: Kind) -> str | None:
    if value is None:
        return None
    if kind == Kind.BOOL:
        return "true" if value in (True, 1, "1") else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


async def run(
    catalog: Catalog,
    queryset: QuerySet[Any],
    plan: Plan,
    custom: dict[int, Any] | None = None,
    columns: dict[str, Any] | None = None,
) -> Result:
    """The page of groups (and, when `plan.totals`, the totals) in one statement."""
    built = build(catalog, queryset, plan, custom or {}, columns)
    _, _, connection = compiled(queryset.all())
    rows = await connection.execute_query_dict(built.sql, built.params)
    result = Result()
    numbered = sorted(
        (r for r in rows if int(r["crm_total"]) == 0), key=lambda r: int(r["crm_pos"])
    )
    result.group_count = int(numbered[0]["crm_groups"]) if numbered else 0
    page = [r for r in numbered if int(r["crm_pos"]) > plan.offset]
    for row in page[: plan.first]:
        keys = tuple(
            Key(d.name, _key_text(row[f"k{i}"], d.kind), row[f"l{i}"])
            for i, d in enumerate(built.dims)
        )
        result.groups.append(_group(built, row, keys))
    result.has_next = len(page) > plan.first
    totals = [_group(built, row, ()) for row in rows if int(row["crm_total"]) == 1]
    result.totals = sorted(totals, key=lambda g: g.currency or "")
    return result


def _group(built: _Built, row: dict[str, Any], keys: tuple[Key, ...]) -> Group:
    values = {m.name: m.value(row, i) for i, m in enumerate(built.measures)}
    return Group(keys, row["kc"] if built.money else None, values)


def fingerprint(plan: Plan, extra: Any) -> str:
    """What a cursor is valid for: the plan without its page, and the filter."""
    text = repr((plan.dimensions, plan.measures, plan.having, plan.order, plan.time_zone, extra))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(offset: int, tag: str) -> str:
    payload = orjson.dumps([tag, offset])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str) -> int:
    """The number of groups before the cursor; AggregateError when it is not one of
    this aggregate's (other arguments, or not a cursor at all)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        found = None
    if not (isinstance(found, list) and len(found) == 2 and isinstance(found[1], int)):
        raise AggregateError("after", "`after`: the cursor is not valid.")
    if found[0] != tag or not 0 <= found[1] < 2**31:
        raise AggregateError("after", "`after`: the cursor belongs to another aggregate.")
    return found[1]


async def usable_custom_fields(entity: Any, ids: list[int]) -> dict[int, Any]:
    """The custom fields of `entity` among `ids` that can be dimensions (COMBO,
    CHECKBOX, LINKED), by id: one statement, only when a dimension names one."""
    if not ids:
        return {}
    kinds = (CustomFieldKind.COMBO, CustomFieldKind.CHECKBOX, CustomFieldKind.LINKED)
    found = await CustomField.filter(entity=entity, id__in=ids, kind__in=kinds)
    return {f.id: f for f in found}


# Every group on one page: for the fixed statistics built on this machinery.
ALL = 2**31 - 2


async def all_groups(catalog: Catalog, queryset: QuerySet[Any], plan: Plan) -> list[Group]:
    """Every group of `plan` (its `first` ignored), in its order: one statement."""
    result = await run(catalog, queryset, replace(plan, first=ALL, offset=0, totals=False))
    return result.groups
