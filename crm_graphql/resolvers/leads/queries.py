"""Reading leads: the list (filtered through the lead rule in SQL, or by one of the
viewer's saved searches), one lead, and the lead types, tags, progress steps and channels."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.leads import Lead, LeadTag
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.leads import LEAD_BITS, visible_leads_q
from crm_graphql.resolvers.common import connection, get_or_404
from crm_graphql.schema.common import Connection
from crm_graphql.schema.leads import (
    LEAD_DEFAULT_ORDER,
    LEAD_FILTER_SPEC,
    LeadFilter,
    LeadKindType,
    LeadObjectType,
    LeadOrder,
    LeadProgress,
    LeadTagType,
    default_open_q,
    lead_progress,
)
from crm_graphql.schema.leads.searches import saved_search_filter
from crm_graphql.services import leads as service

Described = strawberry.argument


def visible_leads(info: Info) -> Any:
    return Lead.filter(visible_leads_q(info.context.require_viewer()))


@strawberry.type
class LeadReadQuery:
    @strawberry.field(
        description="Leads you can see, filtered and sorted, a page at a time (default: "
        "open leads, most recently changed first).",
        extensions=auth(*LEAD_BITS),
    )
    async def leads(
        self,
        info: Info,
        filter: Annotated[LeadFilter | None, Described(description="Conditions.")] = None,
        saved_search_id: Annotated[
            strawberry.ID | None,
            Described(description="Use one of your saved searches as the filter."),
        ] = None,
        order_by: Annotated[
            list[LeadOrder] | None,
            Described(description="Sort keys (default: last change, newest first)."),
        ] = None,
        first: Annotated[
            int | None, Described(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[LeadObjectType]:
        if saved_search_id is not None:
            filter = await saved_search_filter(
                info.schema,
                info.context.settings.limits,
                info.context.require_viewer(),
                saved_search_id,
            )
        return await connection(
            info,
            visible_leads(info).filter(default_open_q(filter)),
            flt=filter,
            spec=LEAD_FILTER_SPEC,
            order_by=order_by,
            default_order=LEAD_DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="One lead you can see (NOT_FOUND otherwise).", extensions=auth(*LEAD_BITS)
    )
    async def lead(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> LeadObjectType:
        return await get_or_404(Lead, visible_leads(info), id)

    @strawberry.field(
        description="Every lead type, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[LeadKindType],
    )
    async def lead_types(self, info: Info) -> list[LeadTypeModel]:
        return await LeadTypeModel.all().order_by("name", "id")

    @strawberry.field(
        description="Every lead tag, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[LeadTagType],
    )
    async def lead_tags(self, info: Info) -> list[LeadTag]:
        return await LeadTag.all().order_by("name", "id")

    @strawberry.field(
        description="The progress steps in code order, with CRM setup's names.",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_progress_steps(self, info: Info) -> list[LeadProgress]:
        setup = await info.context.loaders.leads.setup()
        return [lead_progress(setup, code) for code in service.progress_names(setup)]

    @strawberry.field(description="The lead channels of CRM setup.", extensions=auth(*LEAD_BITS))
    async def lead_channels(self, info: Info) -> list[str]:
        return service.channels(await info.context.loaders.leads.setup())
