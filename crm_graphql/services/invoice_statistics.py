"""Invoice statistics (SPEC §6): each one SQL aggregate over a set of invoices.

The set is a queryset the caller has narrowed to the invoices the viewer can see that
match the list's filter; every statistic aggregates over `id IN (that set)`, so the
filter's joins never multiply rows. Billing counts the non-canceled SUBMITTED invoices
(what we invoiced); the totals per currency count every invoice of the set. Amounts are
summed per currency: different currencies are never added together."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from crm_graphql.models.companies import Company
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from crm_graphql.models.users import User
from crm_graphql.services.aggregate_catalog import INVOICES
from crm_graphql.services.aggregate_plan import Measure, Plan
from crm_graphql.services.aggregates import all_groups
from crm_graphql.services.orm import compiled
from crm_graphql.values import cents_to_decimal

TOP = 10


@dataclass(frozen=True)
class Amounts:
    currency: str
    count: int
    base: Decimal
    total: Decimal


@dataclass(frozen=True)
class MonthAmounts:
    month: str
    amounts: Amounts


@dataclass(frozen=True)
class CompanyAmounts:
    company: Company | None
    amounts: Amounts


@dataclass(frozen=True)
class ManagerAmounts:
    manager: User | None
    amounts: Amounts


def _money(cents: Any) -> Decimal:
    # SUM of a BIGINT is an integer on SQLite and a NUMERIC (Decimal) on PostgreSQL.
    return cents_to_decimal(int(cents or 0))


def _amounts(row: dict[str, Any]) -> Amounts:
    return Amounts(
        currency=row["currency"],
        count=int(row["n"]),
        base=_money(row["base"]),
        total=_money(row["total"]),
    )


async def _aggregate(
    invoices: QuerySet[Invoice],
    key: tuple[str, str] | None,
    billing_only: bool,
    order: str,
    joins: str = "",
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One statement: SELECT <key expression> AS <key alias>, currency, COUNT(*),
    SUM(base), SUM(total) over the set, grouped by the key and the currency."""
    inner = Invoice.filter(id__in=Subquery(invoices.values("id"))).values("id")
    inner_sql, params, _ = compiled(inner)
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    where = ""
    if billing_only:
        n = len(params)
        kind, status = (f"${n + 1}", f"${n + 2}") if postgres else ("?", "?")
        where = f" AND i.kind = {kind} AND i.status <> {status}"
        params = [*params, InvoiceKind.SUBMITTED.value, InvoiceStatus.CANCELED.value]
    select = f"{key[0]} AS {key[1]}, " if key else ""
    group = f"{key[0]}, " if key else ""
    sql = (
        f"SELECT {select}i.currency AS currency, COUNT(*) AS n, "  # noqa: S608
        f"SUM(i.base_cents) AS base, SUM(i.total_cents) AS total "
        f"FROM invoices i {joins} WHERE i.id IN ({inner_sql}){where} "
        f"GROUP BY {group}i.currency ORDER BY {order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return await connection.execute_query_dict(sql, list(params))


async def totals_per_currency(invoices: QuerySet[Invoice]) -> list[Amounts]:
    """Count, base and total per currency: the generic aggregate's (`invoicesAggregate`
    grouped by nothing, money keyed by currency), so the two never disagree."""
    plan = Plan(
        measures=(
            Measure("COUNT", name="n"),
            Measure("SUM", "BASE", "base"),
            Measure("SUM", "TOTAL", "total"),
        ),
    )
    return [
        Amounts(
            currency=g.currency or "",
            count=int(g.values["n"] or 0),
            base=g.values["base"] or _money(0),  # type: ignore[arg-type]
            total=g.values["total"] or _money(0),  # type: ignore[arg-type]
        )
        for g in await all_groups(INVOICES, invoices, plan)
    ]


def _month_expression() -> str:
    postgres = get_connection("default").capabilities.dialect == "postgres"
    return "to_char(i.issued_on, 'YYYY-MM')" if postgres else "strftime('%Y-%m', i.issued_on)"


async def billing_per_month(invoices: QuerySet[Invoice]) -> list[MonthAmounts]:
    """Billing per month of the creation date and currency, oldest month first."""
    month = _month_expression()
    rows = await _aggregate(invoices, (month, "month"), True, "month, currency")
    return [MonthAmounts(month=r["month"], amounts=_amounts(r)) for r in rows]


async def billing_per_company(
    invoices: QuerySet[Invoice], limit: int = TOP
) -> list[CompanyAmounts]:
    """The companies (and currencies) with the largest billing, largest base first."""
    rows = await _aggregate(
        invoices, ("i.company_id", "company_id"), True, "base DESC, i.company_id", limit=limit
    )
    companies = {c.id: c for c in await Company.filter(id__in={r["company_id"] for r in rows})}
    return [
        CompanyAmounts(company=companies.get(r["company_id"]), amounts=_amounts(r)) for r in rows
    ]


async def billing_per_manager(invoices: QuerySet[Invoice]) -> list[ManagerAmounts]:
    """Billing per manager of the invoiced company and currency, largest base first."""
    rows = await _aggregate(
        invoices,
        ("c.manager_id", "manager_id"),
        True,
        "base DESC, manager_id",
        joins="JOIN companies c ON c.id = i.company_id",
    )
    ids = {r["manager_id"] for r in rows if r["manager_id"] is not None}
    users = {u.id: u for u in await User.filter(id__in=ids)} if ids else {}
    return [ManagerAmounts(manager=users.get(r["manager_id"]), amounts=_amounts(r)) for r in rows]
