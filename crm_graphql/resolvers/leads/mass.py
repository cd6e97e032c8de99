"""Mass operations on leads: each lead is checked and done in its own transaction, so a
refused lead (NOT_FOUND, FORBIDDEN, INVALID) is reported and undoes nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ApiError, BadUserInput, FieldError
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.leads import can_delete_lead, can_edit_lead
from crm_graphql.resolvers.common import visible_lead
from crm_graphql.resolvers.leads.shared import WRITE_BITS
from crm_graphql.schema.common import user_errors
from crm_graphql.schema.leads import LeadMassPayload, LeadOperationResult
from crm_graphql.services import leads as service
from crm_graphql.services.auth import Viewer
from crm_graphql.services.mutations import atomic
from crm_graphql.services.setup import get_setup

Described = strawberry.argument


MAX_MASS = 500


async def _each(
    info: Info,
    viewer: Viewer,
    ids: list[strawberry.ID],
    work: Callable[[Lead], Awaitable[Any]],
    *,
    allowed: Callable[[Viewer, Lead], bool] = can_edit_lead,
    denied: str = "not its owner",
) -> LeadMassPayload:
    """Run `work` on each lead the viewer may change (`allowed`, else a FORBIDDEN result
    saying `denied`), each in its own transaction: a refused lead undoes nothing else."""
    if len(ids) > MAX_MASS:
        raise BadUserInput(f"At most {MAX_MASS} leads at once.", field="ids")
    results: list[LeadOperationResult] = []
    for lead_id in dict.fromkeys(ids):

        async def one(lead_id: Any = lead_id) -> None:
            lead = await visible_lead(info, lead_id)
            if not allowed(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", denied)
            await work(lead)

        try:
            _, errors = await atomic(one)
        except ApiError as exc:  # the object rule refused this lead (FORBIDDEN)
            errors = [FieldError("id", exc.code, exc.message)]
        results.append(
            LeadOperationResult(lead_id=lead_id, ok=not errors, errors=user_errors(errors))
        )
    done = sum(1 for r in results if r.ok)
    return LeadMassPayload(results=results, succeeded=done, failed=len(results) - done)


@strawberry.type
class LeadMassMutation:
    @strawberry.mutation(
        description="Give each lead to an owner; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_assign_owner(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        owner_id: Annotated[strawberry.ID, Described(description="The new owner.")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()
        return await _each(
            info,
            viewer,
            ids,
            lambda lead: service.assign_owner(
                viewer, lead, owner_id, setup, info.context.request_id
            ),
        )

    @strawberry.mutation(
        description="Set each lead's progress; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_set_progress(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        progress: Annotated[int, Described(description="The progress code.")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()
        return await _each(
            info,
            viewer,
            ids,
            lambda lead: service.set_progress(
                viewer, lead, progress, setup, info.context.request_id
            ),
        )

    @strawberry.mutation(
        description="Add and remove tags on each lead; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_change_tags(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        add: Annotated[list[strawberry.ID] | None, Described(description="Tags to add.")] = None,
        remove: Annotated[
            list[strawberry.ID] | None, Described(description="Tags to remove.")
        ] = None,
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        add_ids = await service.tag_ids(add, "add")
        remove_ids = await service.tag_ids(remove, "remove")
        return await _each(
            info,
            viewer,
            ids,
            lambda lead: service.change_tags(
                viewer, lead, add_ids, remove_ids, info.context.request_id
            ),
        )

    @strawberry.mutation(
        description="Close each lead with a closed code; each lead checked on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_close(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        progress: Annotated[int, Described(description="The closed code.")] = 100,
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()
        return await _each(
            info,
            viewer,
            ids,
            lambda lead: service.close_lead(viewer, lead, progress, setup, info.context.request_id),
        )

    @strawberry.mutation(
        description="Delete each lead (LM); each lead checked and done on its own.",
        extensions=auth("LM"),
    )
    async def leads_delete(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        return await _each(
            info,
            viewer,
            ids,
            lambda lead: service.delete_lead(viewer, lead, info.context.request_id),
            allowed=can_delete_lead,
            denied="needs LM",
        )
