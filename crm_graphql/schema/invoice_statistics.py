"""Types of the invoice statistics: each field is one SQL aggregate over the invoices
the viewer can see that match the filter, run only when selected."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from tortoise.queryset import QuerySet

from crm_graphql.models.companies import Company
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.users import User
from crm_graphql.schema.common import COMPANY_TYPE, USER_TYPE
from crm_graphql.services import invoice_statistics as stats

if TYPE_CHECKING:
    pass


@strawberry.type(description="Sums of some invoices in one currency.")
class InvoiceAmounts:
    currency: str = strawberry.field(description="ISO 4217 code.")
    count: int = strawberry.field(description="Number of invoices.")
    base: Decimal = strawberry.field(description="Sum of the bases.")
    total: Decimal = strawberry.field(description="Sum of the totals.")


def _amounts(a: stats.Amounts) -> InvoiceAmounts:
    return InvoiceAmounts(currency=a.currency, count=a.count, base=a.base, total=a.total)


@strawberry.type(description="Billing of one month in one currency.")
class MonthlyBilling:
    month: str = strawberry.field(description="The month of the creation date, YYYY-MM.")
    amounts: InvoiceAmounts = strawberry.field(description="Its sums.")


@strawberry.type(description="Billing of one company in one currency.")
class CompanyBilling:
    company: Company | None = strawberry.field(
        description="The company.", graphql_type=COMPANY_TYPE | None
    )
    amounts: InvoiceAmounts = strawberry.field(description="Its sums.")


@strawberry.type(description="Billing of the companies of one manager in one currency.")
class ManagerBilling:
    manager: User | None = strawberry.field(
        description="The manager; null for companies without one.", graphql_type=USER_TYPE | None
    )
    amounts: InvoiceAmounts = strawberry.field(description="Its sums.")


@strawberry.type(
    description="Statistics over the invoices you can see that match the filter. Billing "
    "counts non-canceled Submitted invoices; amounts are per currency, never mixed. Each "
    "field is one SQL aggregate, computed only when selected."
)
class InvoiceStatistics:
    _invoices: strawberry.Private[QuerySet[Invoice]]

    @strawberry.field(description="Count and sums of all the invoices, per currency.")
    async def totals_per_currency(self) -> list[InvoiceAmounts]:
        return [_amounts(a) for a in await stats.totals_per_currency(self._invoices)]

    @strawberry.field(description="Billing per month (oldest first) and currency.")
    async def billing_per_month(self) -> list[MonthlyBilling]:
        rows = await stats.billing_per_month(self._invoices)
        return [MonthlyBilling(month=r.month, amounts=_amounts(r.amounts)) for r in rows]

    @strawberry.field(
        description=f"The {stats.TOP} largest billings per company and currency, largest first."
    )
    async def billing_per_company(self) -> list[CompanyBilling]:
        rows = await stats.billing_per_company(self._invoices)
        return [CompanyBilling(company=r.company, amounts=_amounts(r.amounts)) for r in rows]

    @strawberry.field(
        description="Billing per manager of the invoiced companies and currency, largest first."
    )
    async def billing_per_manager(self) -> list[ManagerBilling]:
        rows = await stats.billing_per_manager(self._invoices)
        return [ManagerBilling(manager=r.manager, amounts=_amounts(r.amounts)) for r in rows]
