"""Lead statistics and the lead pipeline: the leads the viewer can see, narrowed by the
same filter as the `leads` list; each statistic then runs as one SQL aggregate over
them, and a pipeline as two statements whatever the number of leads and steps, planned
from the selection before the steps are handed out."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.leads import LEAD_BITS
from crm_graphql.resolvers.filtering import filtered_leads
from crm_graphql.schema.common import page_size
from crm_graphql.schema.lead_statistics import (
    PIPELINE_ORDERS,
    LeadPipelineOrder,
    LeadPipelineStep,
    LeadStatistics,
    build_pipeline,
    selected_names,
)
from crm_graphql.schema.leads import LeadFilter
from crm_graphql.services import lead_statistics as stats
from crm_graphql.services.listing import sort_keys


@strawberry.type
class LeadStatisticsQuery:
    @strawberry.field(
        description="Statistics over the leads you can see that match the filter (the same "
        "filter as `leads`), closed leads included. Needs LR, LW or LM.",
        extensions=auth(*LEAD_BITS),
    )
    def lead_statistics(
        self,
        info: Info,
        filter: Annotated[
            LeadFilter | None,
            strawberry.argument(description="Conditions, as for `leads`; none: all."),
        ] = None,
    ) -> LeadStatistics:
        return LeadStatistics(_leads=filtered_leads(info, filter, open_default=False))

    @strawberry.field(
        description="The leads you can see that match the filter, grouped by progress step "
        "in code order: every open step (even empty), and the closed steps (100, 101, 102, "
        "200) when `includeClosed`. Each step has its count, its estimated sales per "
        "currency and its first leads. Needs LR, LW or LM.",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_pipeline(
        self,
        info: Info,
        filter: Annotated[
            LeadFilter | None,
            strawberry.argument(description="Conditions, as for `leads`; none: all."),
        ] = None,
        order_by: Annotated[
            LeadPipelineOrder,
            strawberry.argument(description="How the leads inside each step are sorted."),
        ] = LeadPipelineOrder.ESTIMATED_SALE,
        include_closed: Annotated[
            bool,
            strawberry.argument(description="Also show the closed steps (100 and above)."),
        ] = False,
        first: Annotated[
            int | None,
            strawberry.argument(description="Leads listed per step (default 10, at most 50)."),
        ] = None,
    ) -> list[LeadPipelineStep]:
        limits = info.context.settings.limits
        size = page_size(first, limits.nested_page_size_default, limits.nested_page_size_max)
        leads = filtered_leads(info, filter, open_default=False)
        steps = stats.pipeline_steps(include_closed)
        wanted = selected_names(info.selected_fields[0].selections)

        async def nothing() -> dict[int, Any]:
            return {}

        # Only the statements the selection needs, at the same time.
        setup, totals, firsts = await asyncio.gather(
            info.context.loaders.leads.setup() if "progress" in wanted else nothing(),
            stats.pipeline_totals(leads, steps)
            if wanted & {"count", "estimatedSales"}
            else nothing(),
            stats.pipeline_leads(leads, steps, sort_keys(None, PIPELINE_ORDERS[order_by]), size)
            if wanted & {"leads", "hasMoreLeads"}
            else nothing(),
        )
        return build_pipeline(steps, setup or None, totals, firsts, size)
