"""Types of the company statistics: each field is one SQL aggregate over the companies
the viewer can see that match the filter, run only when selected."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry
from tortoise.queryset import QuerySet

from crm_graphql.errors import BadUserInput
from crm_graphql.models.companies import Company
from crm_graphql.models.users import User
from crm_graphql.permissions.invoices import invoice_sums_field
from crm_graphql.schema.common import USER_TYPE
from crm_graphql.schema.companies import CompanyType
from crm_graphql.services import company_statistics as stats
from crm_graphql.services.billing import filter_currency
from crm_graphql.services.listing import ListError


@strawberry.type(description="How many of the companies are in one country.")
class CompaniesByCountry:
    country: str = strawberry.field(description="The country (empty when not set).")
    count: int = strawberry.field(description="Number of companies.")


@strawberry.type(description="How many of the companies one user manages.")
class CompaniesByManager:
    manager: User | None = strawberry.field(
        graphql_type=USER_TYPE | None,
        description="The manager; null for the companies without one.",
    )
    count: int = strawberry.field(description="Number of companies.")


@strawberry.type(description="How many users belong to one company.")
class UsersPerCompany:
    company: Company = strawberry.field(graphql_type=CompanyType, description="The company.")
    count: int = strawberry.field(description="Number of users who belong to it.")


@strawberry.type(description="How many activities one company has.")
class CompanyActivityCount:
    company: Company = strawberry.field(graphql_type=CompanyType, description="The company.")
    count: int = strawberry.field(description="Number of activities on it and on its contacts.")


@strawberry.type(description="What one company has been invoiced in one currency.")
class CompanyInvoicing:
    company: Company = strawberry.field(graphql_type=CompanyType, description="The company.")
    currency: str = strawberry.field(description="ISO 4217 code of `amount`.")
    amount: Decimal = strawberry.field(
        description="Its billing in `currency`: the sum of those invoice bases."
    )


@strawberry.type(
    description="What the companies of one manager have been invoiced in one currency."
)
class InvoicingPerManager:
    manager: User | None = strawberry.field(
        graphql_type=USER_TYPE | None,
        description="The manager; null for the companies without one.",
    )
    currency: str = strawberry.field(description="ISO 4217 code of `amount`.")
    amount: Decimal = strawberry.field(
        description="Sum of the billing in `currency` of the companies they manage."
    )


CurrencyArg = Annotated[
    str | None,
    strawberry.argument(
        description="ISO 4217 code: amounts in other currencies are never added in; "
        "default: CRM setup's default currency."
    ),
]


def _currency(value: str | None) -> str | None:
    try:
        return filter_currency(value)
    except ListError as exc:
        raise BadUserInput(str(exc)) from None


@strawberry.type(
    description="Statistics over the companies you can see that match the filter. Each "
    "field is one SQL aggregate, computed only when selected."
)
class CompanyStatistics:
    _companies: strawberry.Private[QuerySet[Company]]

    @strawberry.field(description="Companies per country, most first (then by country).")
    async def by_country(self) -> list[CompaniesByCountry]:
        rows = await stats.by_country(self._companies)
        return [CompaniesByCountry(country=r.country, count=r.count) for r in rows]

    @strawberry.field(
        description="Companies per manager, most first (then by username; companies "
        "without a manager last)."
    )
    async def by_manager(self) -> list[CompaniesByManager]:
        rows = await stats.by_manager(self._companies)
        return [CompaniesByManager(manager=r.manager, count=r.count) for r in rows]

    @strawberry.field(
        description="Users belonging to each company, most first (then by name); "
        "companies without users are left out."
    )
    async def users_per_company(self) -> list[UsersPerCompany]:
        rows = await stats.users_per_company(self._companies)
        return [UsersPerCompany(company=r.company, count=r.count) for r in rows]

    @strawberry.field(
        description=f"The {stats.TOP} companies with most activities, most first (then by "
        "name); companies without activities are left out."
    )
    async def top_by_activity(self) -> list[CompanyActivityCount]:
        rows = await stats.top_by_activity(self._companies)
        return [CompanyActivityCount(company=r.company, count=r.count) for r in rows]

    @strawberry.field(
        description=f"The {stats.TOP} companies with the largest billing in one currency, "
        "largest first (then by name); companies without billing in it are left out. Needs IR: "
        "without it, null with a FORBIDDEN error.",
        extensions=invoice_sums_field(),
    )
    async def top_by_invoicing(self, currency: CurrencyArg = None) -> list[CompanyInvoicing] | None:
        rows = await stats.top_by_invoicing(self._companies, _currency(currency))
        return [
            CompanyInvoicing(company=r.company, currency=r.currency, amount=r.amount) for r in rows
        ]

    @strawberry.field(
        description="Billing in one currency of the companies per manager, largest first "
        "(then by username; companies without a manager last); managers whose companies "
        "have no billing in it are left out. Needs IR: "
        "without it, null with a FORBIDDEN error.",
        extensions=invoice_sums_field(),
    )
    async def invoicing_per_manager(
        self, currency: CurrencyArg = None
    ) -> list[InvoicingPerManager] | None:
        rows = await stats.invoicing_per_manager(self._companies, _currency(currency))
        return [
            InvoicingPerManager(manager=r.manager, currency=r.currency, amount=r.amount)
            for r in rows
        ]
