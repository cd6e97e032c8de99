"""Invoice statistics: the invoices the viewer can see, narrowed by the same filter as
the `invoices` list; each statistic then runs as one SQL aggregate over them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.filtering import filtered_invoices
from crm_graphql.schema.invoice_filters import InvoiceFilter
from crm_graphql.schema.invoice_statistics import InvoiceStatistics


@strawberry.type
class InvoiceStatisticsQuery:
    @strawberry.field(
        description="Statistics over the invoices you can see that match the filter (the "
        "same filter as `invoices`). Needs IR.",
        extensions=auth("IR"),
    )
    def invoice_statistics(
        self,
        info: Info,
        filter: Annotated[
            InvoiceFilter | None,
            strawberry.argument(description="Conditions, as for `invoices`; none: all."),
        ] = None,
    ) -> InvoiceStatistics:
        return InvoiceStatistics(_invoices=filtered_invoices(info, filter))
