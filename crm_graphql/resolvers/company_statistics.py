"""Company statistics: the companies the viewer can see, narrowed by the same filter as
the `companies` list; each statistic then runs as one SQL aggregate over them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.models.companies import Company
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.permissions.invoices import can_see_invoice_sums, invoice_sums_used
from crm_graphql.schema.companies import COMPANY_FILTER_SPEC, CompanyFilter
from crm_graphql.schema.company_statistics import CompanyStatistics
from crm_graphql.services.listing import ListError, filter_q


@strawberry.type
class CompanyStatisticsQuery:
    @strawberry.field(
        description="Statistics over the companies you can see that match the filter "
        "(the same filter as `companies`). Needs CR.",
        extensions=auth("CR"),
    )
    def company_statistics(
        self,
        info: Info,
        filter: Annotated[
            CompanyFilter | None,
            strawberry.argument(description="Conditions, as for `companies`; none: all."),
        ] = None,
    ) -> CompanyStatistics:
        viewer = info.context.require_viewer()
        if invoice_sums_used(filter) and not can_see_invoice_sums(viewer):
            raise info.context.deny("companyStatistics.filter.billing", "needs IR")
        companies = Company.filter(visible_companies_q(viewer))
        try:
            if filter is not None:
                companies = companies.filter(
                    filter_q(filter, COMPANY_FILTER_SPEC, model=Company, viewer=viewer)
                )
        except ListError as exc:
            raise BadUserInput(str(exc)) from None
        return CompanyStatistics(_companies=companies)
