"""Saved lead searches: a LeadFilter stored as JSON, checked by the schema's own input
type when saved and when used."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.leads import SavedLeadSearch
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.leads import LEAD_BITS
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.leads import SavedLeadSearchPayload, SavedLeadSearchType
from crm_graphql.schema.leads.searches import lead_filter_from_json
from crm_graphql.services import leads as service
from crm_graphql.services.contracts import parse_ref
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


@strawberry.type
class LeadSearchesQuery:
    @strawberry.field(
        description="Your saved lead searches, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[SavedLeadSearchType],
    )
    async def lead_saved_searches(self, info: Info) -> list[SavedLeadSearch]:
        viewer = info.context.require_viewer()
        return await SavedLeadSearch.filter(user_id=viewer.user.id).order_by("name", "id")


@strawberry.type
class LeadSearchesMutation:
    @strawberry.mutation(
        description="Save a lead filter under a name (saving an existing name replaces it).",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_search_save(
        self,
        info: Info,
        name: Annotated[str, Described(description="Its name.")],
        filter: Annotated[JSON, Described(description="A LeadFilter, as JSON.")],
    ) -> SavedLeadSearchPayload:
        viewer = info.context.require_viewer()

        async def work() -> SavedLeadSearch:
            # Refused unless `leads` would accept it.
            lead_filter_from_json(info.schema, info.context.settings.limits, filter)
            return await service.save_search(viewer.user, name, filter)

        saved, errors = await atomic(work)
        return SavedLeadSearchPayload(saved_search=saved, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete one of your saved searches.", extensions=auth(*LEAD_BITS)
    )
    async def lead_search_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The search.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            found = await SavedLeadSearch.filter(
                user_id=viewer.user.id, id=parse_ref(id, "id")
            ).first()
            if found is None:
                raise FieldError("id", ErrorCode.NOT_FOUND, "No such saved search.")
            await found.delete()

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
