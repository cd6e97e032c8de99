"""Company statistics (SPEC §3): each one SQL aggregate over a set of companies.

The set is a queryset the caller has already narrowed to the companies the viewer can
see and that match the list's filter. Every statistic aggregates over
`id IN (that set)`, so joins the filter needs (manager, parent, role) can never
multiply rows, and each statistic is ONE statement: rows that name a company or a user
get it from a join in that same statement, not from a second query."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.users import User
from crm_graphql.services.aggregate_catalog import COMPANIES
from crm_graphql.services.aggregate_plan import Dimension, Measure, Order, Plan
from crm_graphql.services.aggregates import all_groups
from crm_graphql.services.billing import currency_sql
from crm_graphql.services.orm import compiled, from_row
from crm_graphql.values import cents_to_decimal

TOP = 10


@dataclass(frozen=True)
class CountryCount:
    country: str
    count: int


@dataclass(frozen=True)
class ManagerCount:
    manager: User | None
    count: int


@dataclass(frozen=True)
class ManagerAmount:
    manager: User | None
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class CompanyCount:
    company: Company
    count: int


@dataclass(frozen=True)
class CompanyAmount:
    company: Company
    currency: str
    amount: Decimal


def _scope(companies: QuerySet[Company]) -> QuerySet[Company]:
    """The companies of `companies`, without its joins: aggregates count each once."""
    return Company.filter(id__in=Subquery(companies.values("id")))


def _ids(companies: QuerySet[Company]) -> Subquery:
    return Subquery(companies.values("id"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _joined(
    aggregate: ValuesQuery[Any],
    key: str,
    model: type[Model],
    tie: str,
    limit: int | None = None,
) -> list[tuple[Any, Any]]:
    """(object or None, n) for each row of `aggregate` (columns `key`, `n`), the object
    joined from `model`'s table in the same statement; largest n first, then `tie`."""
    inner_sql, params, connection = compiled(aggregate)
    table = _quote(model._meta.db_table)
    tie_column = _quote(model._meta.fields_db_projection[tie])
    sql = (
        f"SELECT t.*, s.{_quote(key)} AS crm_key, s.n AS crm_n "  # noqa: S608
        f"FROM ({inner_sql}) s LEFT JOIN {table} t ON t.id = s.{_quote(key)} "
        f"ORDER BY s.n DESC, CASE WHEN t.id IS NULL THEN 1 ELSE 0 END, t.{tie_column}, "
        f"s.{_quote(key)}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    found: list[tuple[Any, Any]] = []
    for row in await connection.execute_query_dict(sql, params):
        row.pop("crm_key")
        n = row.pop("crm_n")
        found.append((from_row(model, row) if row["id"] is not None else None, n))
    return found


def _money(cents: Any) -> Decimal:
    # SUM of a BIGINT is an integer on SQLite and a NUMERIC (Decimal) on PostgreSQL.
    return cents_to_decimal(int(cents or 0))


async def by_country(companies: QuerySet[Company]) -> list[CountryCount]:
    """Companies per country, most first: the generic aggregate's COUNTRY dimension, so
    the two can never disagree."""
    plan = Plan(
        dimensions=(Dimension("COUNTRY"),),
        measures=(Measure("COUNT", name="n"),),
        order=(Order("n", descending=True), Order("country")),
    )
    groups = await all_groups(COMPANIES, companies, plan)
    return [
        CountryCount(country=g.keys[0].value or "", count=int(g.values["n"] or 0)) for g in groups
    ]


async def by_manager(companies: QuerySet[Company]) -> list[ManagerCount]:
    """Companies per manager (None: companies without one), most first."""
    aggregate = (
        _scope(companies).annotate(n=Count("id")).group_by("manager_id").values("manager_id", "n")
    )
    rows = await _joined(aggregate, "manager_id", User, "username")
    return [ManagerCount(manager=user, count=int(n)) for user, n in rows]


def _scope_sql(companies: QuerySet[Company]) -> tuple[str, list[Any], Any]:
    """(SQL, params, connection) of the ids and managers of `companies`, each once."""
    scope = _scope(companies).order_by().values("id", "manager_id")
    return compiled(scope)


async def invoicing_per_manager(
    companies: QuerySet[Company], currency: str | None = None
) -> list[ManagerAmount]:
    """Sum of the companies' billing in one currency (None: CRM setup's default) per
    manager (None: without one), largest first; every manager of the companies is
    listed, with 0 when nothing was invoiced in that currency."""
    scope, params, db = _scope_sql(companies)
    code = currency_sql(currency)
    aggregate = (
        "SELECT c.manager_id, SUM(COALESCE(b.cents, 0)) AS n "  # noqa: S608
        f"FROM ({scope}) c LEFT JOIN company_billings b "
        f"ON b.company_id = c.id AND b.currency = {code} GROUP BY c.manager_id"
    )
    sql = (
        f"SELECT t.*, s.manager_id AS crm_key, {code} AS crm_currency, s.n AS crm_n "  # noqa: S608
        f"FROM ({aggregate}) s LEFT JOIN users t ON t.id = s.manager_id "
        "ORDER BY s.n DESC, CASE WHEN t.id IS NULL THEN 1 ELSE 0 END, t.username, s.manager_id"
    )
    found: list[ManagerAmount] = []
    for row in await db.execute_query_dict(sql, params):
        row.pop("crm_key")
        code_value, n = row.pop("crm_currency"), row.pop("crm_n")
        user = from_row(User, row) if row["id"] is not None else None
        found.append(ManagerAmount(manager=user, currency=code_value, amount=_money(n)))
    return found


async def users_per_company(companies: QuerySet[Company]) -> list[CompanyCount]:
    """Users belonging to each company (companies with at least one), most first."""
    aggregate = (
        User.filter(company_id__in=_ids(companies))
        .annotate(n=Count("id"))
        .group_by("company_id")
        .values("company_id", "n")
    )
    rows = await _joined(aggregate, "company_id", Company, "name")
    return [CompanyCount(company=company, count=int(n)) for company, n in rows]


async def top_by_activity(companies: QuerySet[Company], limit: int = TOP) -> list[CompanyCount]:
    """The companies with most activities (their own and their contacts')."""
    aggregate = (
        Activity.filter(company_id__in=_ids(companies))
        .annotate(n=Count("id"))
        .group_by("company_id")
        .values("company_id", "n")
    )
    rows = await _joined(aggregate, "company_id", Company, "name", limit)
    return [CompanyCount(company=company, count=int(n)) for company, n in rows]


async def top_by_invoicing(
    companies: QuerySet[Company], currency: str | None = None, limit: int = TOP
) -> list[CompanyAmount]:
    """The companies with the largest billing in one currency (None: CRM setup's
    default); those with none in it are left out."""
    scope, params, db = _scope_sql(companies)
    code = currency_sql(currency)
    sql = (
        "SELECT t.*, b.currency AS crm_currency, b.cents AS crm_n "  # noqa: S608
        f"FROM ({scope}) c JOIN company_billings b ON b.company_id = c.id "
        f"AND b.currency = {code} AND b.cents > 0 JOIN companies t ON t.id = c.id "
        f"ORDER BY b.cents DESC, t.name, t.id LIMIT {int(limit)}"
    )
    found: list[CompanyAmount] = []
    for row in await db.execute_query_dict(sql, params):
        code_value, n = row.pop("crm_currency"), row.pop("crm_n")
        company = from_row(Company, row)
        found.append(CompanyAmount(company=company, currency=code_value, amount=_money(n)))
    return found
