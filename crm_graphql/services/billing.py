"""Company billing per currency (SPEC §3): the SQL every billing filter, sort and
statistic uses. Amounts of different currencies are never added: each condition names
one currency, by default CRM setup's default currency, which is read in the same SQL
statement (a subquery), so no request pays an extra query for it."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from tortoise.expressions import Q, RawSQL, Subquery

from crm_graphql.models.companies import CompanyBilling
from crm_graphql.services.listing import ListError
from crm_graphql.services.orm import lookup_q
from crm_graphql.values import CURRENCY_RE

# The computed sort column of CompanyOrderField.BILLING (`with_billing_key`).
BILLING_KEY = "billing_key"
# CRM setup's single row (EUR, its model default, until the row exists).
_DEFAULT_SQL = "COALESCE((SELECT s.default_currency FROM crm_setup s WHERE s.id = 1), 'EUR')"
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def filter_currency(value: str | None) -> str | None:
    """An ISO 4217 code in capitals, or None for "the default currency"."""
    if value is None or type(value).__name__ == "UnsetType":
        return None
    code = str(value).strip().upper()
    if not CURRENCY_RE.match(code):
        raise ListError(f"'{value}' is not a currency code (three letters, e.g. EUR).")
    return code


def billing_q(flt: Any, prefix: str = "") -> Q:
    """Companies whose billing in the filter's currency meets its conditions (`flt` has
    `currency` and `eq lt lte gt gte` in cents once coerced). A company without
    invoices in that currency bills 0 there: when 0 meets the conditions, the match is
    "no row, or a row that meets them", written as NOT IN the rows that fail them."""
    code = filter_currency(getattr(flt, "currency", None))
    conditions: dict[str, int] = {}
    for op in _COMPARE:
        value = getattr(flt, op, None)
        if value is not None and type(value).__name__ != "UnsetType":
            conditions[op] = int(flt.coerce(value))
    if not conditions:
        return Q()
    meets = lookup_q(
        {("cents" if op == "eq" else f"cents__{op}"): v for op, v in conditions.items()}
    )
    rows = CompanyBilling.filter(currency=RawSQL(currency_sql(code))).order_by()
    if all(_COMPARE[op](0, v) for op, v in conditions.items()):
        failing = rows.filter(~meets).values("company_id")
        return ~lookup_q({f"{prefix}id__in": Subquery(failing)})
    return lookup_q({f"{prefix}id__in": Subquery(rows.filter(meets).values("company_id"))})


def currency_sql(code: str | None) -> str:
    """SQL for a currency made by `filter_currency` (a literal: it is [A-Z]{3}), or for
    CRM setup's default currency when None. No parameter, so it fits into any
    statement whatever its parameter style."""
    if code is None:
        return _DEFAULT_SQL
    if not CURRENCY_RE.match(code):
        raise ValueError(code)
    return f"'{code}'"


def billing_key(code: str | None) -> RawSQL:
    """A company's billing in cents in one currency (0 when none), as a column to sort
    by: a correlated lookup on company_billings' (company, currency) key."""
    currency = currency_sql(code)
    return RawSQL(
        "COALESCE((SELECT b.cents FROM company_billings b "  # noqa: S608
        f'WHERE b.company_id = "companies"."id" AND b.currency = {currency}), 0)'
    )


def with_billing_key(queryset: Any, order_by: Any) -> Any:
    """`queryset` with the computed sort column of the first BILLING key of `order_by`
    (its currency's billing, `billing_key`), if there is one; ListError for a currency
    that is not one. The companies resolver and the compiled read path use it."""
    for order in order_by or []:
        if getattr(order.field, "value", None) == BILLING_KEY:
            code = filter_currency(order.currency)
            return queryset.annotate(**{BILLING_KEY: billing_key(code)})
    return queryset
