"""A lead's course: taking an unowned lead, closing, deleting, and notes."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.leads import Lead, LeadActivity
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.leads import can_delete_lead, can_take_lead
from crm_graphql.resolvers.common import editable_lead, visible_lead
from crm_graphql.resolvers.leads.shared import WRITE_BITS
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.leads import LeadActivityInput, LeadActivityPayload, LeadPayload
from crm_graphql.services import leads as service
from crm_graphql.services.mutations import atomic
from crm_graphql.services.setup import get_setup

Described = strawberry.argument


@strawberry.type
class LeadWorkflowMutation:
    @strawberry.mutation(
        description="Take an unowned lead you can see (LW): you become its owner and your "
        "company its managing company.",
        extensions=auth(*WRITE_BITS),
    )
    async def lead_take(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The lead.")]
    ) -> LeadPayload:
        viewer = info.context.require_viewer()

        async def work() -> Lead:
            lead = await visible_lead(info, id)
            if lead.owner_id is not None:
                raise FieldError("id", ErrorCode.CONFLICT, "The lead already has an owner.")
            if not can_take_lead(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", "needs LW")
            return await service.take_lead(viewer, lead, info.context.request_id)

        lead, errors = await atomic(work)
        return LeadPayload(lead=lead, errors=user_errors(errors))

    @strawberry.mutation(
        description="Close a lead you can edit with a closed progress code (100 no response "
        "or dead, 101 lost, 102 invalid, 200 won; default 100).",
        extensions=auth(*WRITE_BITS),
    )
    async def lead_close(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The lead.")],
        progress: Annotated[int, Described(description="The closed code.")] = 100,
    ) -> LeadPayload:
        viewer = info.context.require_viewer()

        async def work() -> Lead:
            lead = await editable_lead(info, id)
            return await service.close_lead(
                viewer, lead, progress, await get_setup(), info.context.request_id
            )

        lead, errors = await atomic(work)
        return LeadPayload(lead=lead, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead with its history, notes, files and custom values (LM).",
        extensions=auth("LM"),
    )
    async def lead_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The lead.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            lead = await visible_lead(info, id)
            if not can_delete_lead(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", "needs LM")
            await service.delete_lead(viewer, lead, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Write a note on a lead you can edit.", extensions=auth(*WRITE_BITS)
    )
    async def lead_activity_create(
        self, info: Info, input: Annotated[LeadActivityInput, Described(description="The note.")]
    ) -> LeadActivityPayload:
        viewer = info.context.require_viewer()

        async def work() -> LeadActivity:
            lead = await editable_lead(info, input.lead_id, "leadId")
            return await service.add_activity(
                lead, viewer.user, input.text, request_id=info.context.request_id
            )

        activity, errors = await atomic(work)
        return LeadActivityPayload(activity=activity, errors=user_errors(errors))
