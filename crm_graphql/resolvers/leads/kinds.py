"""Lead types and lead tags (LM)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.leads import LeadTag
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.common import input_fields
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.leads import (
    LeadTagInput,
    LeadTagPayload,
    LeadTagUpdateInput,
    LeadTypeInput,
    LeadTypePayload,
    LeadTypeUpdateInput,
)
from crm_graphql.services import leads as service
from crm_graphql.services.contracts import parse_ref
from crm_graphql.services.mutations import atomic, refuse_nulls

Described = strawberry.argument


@strawberry.type
class LeadKindsMutation:
    @strawberry.mutation(description="Create a lead type (LM).", extensions=auth("LM"))
    async def lead_type_create(
        self, info: Info, input: Annotated[LeadTypeInput, Described(description="Values.")]
    ) -> LeadTypePayload:
        viewer = info.context.require_viewer()
        kind, errors = await atomic(
            lambda: service.save_type(viewer, None, input_fields(input), info.context.request_id)
        )
        return LeadTypePayload(lead_type=kind, errors=user_errors(errors))

    @strawberry.mutation(description="Rename or describe a lead type (LM).", extensions=auth("LM"))
    async def lead_type_update(
        self,
        info: Info,
        input: Annotated[
            LeadTypeUpdateInput, Described(description="The lead type and its changes.")
        ],
    ) -> LeadTypePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> LeadTypeModel:
            kind = await _get(LeadTypeModel, data.pop("id"), "No such lead type.")
            refuse_nulls(LeadTypeModel, data)
            # Fields left out keep their values.
            data.setdefault("name", kind.name)
            data.setdefault("description", kind.description)
            return await service.save_type(viewer, kind, data, info.context.request_id)

        kind, errors = await atomic(work)
        return LeadTypePayload(lead_type=kind, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead type and its custom fields; refused while leads use it (LM).",
        extensions=auth("LM"),
    )
    async def lead_type_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The type.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            kind = await _get(LeadTypeModel, id, "No such lead type.")
            await service.delete_type(viewer, kind, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(description="Create a lead tag (LM).", extensions=auth("LM"))
    async def lead_tag_create(
        self, info: Info, input: Annotated[LeadTagInput, Described(description="Values.")]
    ) -> LeadTagPayload:
        viewer = info.context.require_viewer()
        tag, errors = await atomic(
            lambda: service.save_tag(viewer, None, input_fields(input), info.context.request_id)
        )
        return LeadTagPayload(tag=tag, errors=user_errors(errors))

    @strawberry.mutation(description="Rename or recolour a lead tag (LM).", extensions=auth("LM"))
    async def lead_tag_update(
        self,
        info: Info,
        input: Annotated[LeadTagUpdateInput, Described(description="The tag and its changes.")],
    ) -> LeadTagPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> LeadTag:
            tag = await _get(LeadTag, data.pop("id"), "No such tag.")
            refuse_nulls(LeadTag, data)
            # Fields left out keep their values.
            data.setdefault("name", tag.name)
            data.setdefault("colour", tag.colour)
            return await service.save_tag(viewer, tag, data, info.context.request_id)

        tag, errors = await atomic(work)
        return LeadTagPayload(tag=tag, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead tag; leads lose it (LM).", extensions=auth("LM")
    )
    async def lead_tag_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The tag.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            await service.delete_tag(
                viewer, await _get(LeadTag, id, "No such tag."), info.context.request_id
            )

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))


async def _get(model: Any, value: Any, message: str) -> Any:
    found = await model.filter(id=parse_ref(value, "id")).first()
    if found is None:
        raise FieldError("id", ErrorCode.NOT_FOUND, message)
    return found
