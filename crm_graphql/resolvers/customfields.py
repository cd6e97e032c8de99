"""Custom field definitions and company custom field sections: read with CR, changed
with CM."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldSection
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.common import input_fields
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.customfields import (
    CustomFieldCreateInput,
    CustomFieldEntityEnum,
    CustomFieldPayload,
    CustomFieldSectionCreateInput,
    CustomFieldSectionPayload,
    CustomFieldSectionType,
    CustomFieldSectionUpdateInput,
    CustomFieldType,
    CustomFieldUpdateInput,
    entity_of,
    kind_of,
)
from crm_graphql.services import audit, customfields
from crm_graphql.services.mutations import atomic, refuse_nulls, unique_name
from crm_graphql.services.users import get_object

Described = strawberry.argument


def _ids(data: dict[str, Any], *names: str) -> None:
    for name in names:
        if data.get(name) is not None:
            data[name] = parse_id(data[name], name.replace("_id", "Id"))


@strawberry.type
class CustomFieldsQuery:
    @strawberry.field(
        description="Custom field definitions of one kind of object, in display order.",
        extensions=auth("CR", "LR"),
        graphql_type=list[CustomFieldType],
    )
    async def custom_fields(
        self,
        info: Info,
        entity: Annotated[CustomFieldEntityEnum, Described(description="Kind of object.")],
        owner_id: Annotated[
            strawberry.ID | None,
            Described(description="CONTRACT/LEAD: the contract type or lead type."),
        ] = None,
    ) -> list[CustomField]:
        owner = parse_id(owner_id, "ownerId") if owner_id is not None else None
        return await customfields.fields_for(entity_of(entity), owner)

    @strawberry.field(
        description='Company custom field sections ("Without section" is implicit).',
        extensions=auth("CR"),
        graphql_type=list[CustomFieldSectionType],
    )
    async def custom_field_sections(self, info: Info) -> list[CustomFieldSection]:
        return await CustomFieldSection.all()


def _may_define(info: Info, entity: CustomFieldEntity) -> None:
    """Lead type fields are the lead managers' (LM); every other kind needs CM."""
    viewer = info.context.require_viewer()
    bit = "LM" if entity == CustomFieldEntity.LEAD else "CM"
    if not viewer.has(bit):
        raise info.context.deny("customField", f"needs {bit}")


@strawberry.type
class CustomFieldsMutation:
    @strawberry.mutation(
        description="Define a custom field. Needs CM (LM for lead type fields).",
        extensions=auth("CM", "LM"),
    )
    async def custom_field_create(
        self,
        info: Info,
        input: Annotated[CustomFieldCreateInput, Described(description="The definition.")],
    ) -> CustomFieldPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        data["entity"] = entity_of(data["entity"])
        data["kind"] = kind_of(data["kind"])
        data["name"] = data["name"].strip()

        async def work() -> CustomField:
            _may_define(info, data["entity"])
            _ids(data, "owner_id", "parent_id", "section_id")
            field = await customfields.create_field(data)
            await audit.record(
                viewer.user,
                audit.CREATE,
                "CustomField",
                field.id,
                audit.snapshot(field),
                info.context.request_id,
            )
            return field

        field, errors = await atomic(work)
        return CustomFieldPayload(custom_field=field, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a custom field. Needs CM (LM for lead type fields).",
        extensions=auth("CM", "LM"),
    )
    async def custom_field_update(
        self,
        info: Info,
        input: Annotated[CustomFieldUpdateInput, Described(description="The changes.")],
    ) -> CustomFieldPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> CustomField:
            field = await get_object(CustomField, data.pop("id"), "id")
            refuse_nulls(CustomField, data)
            _may_define(info, field.entity)
            _ids(data, "parent_id", "section_id")
            if "name" in data:
                data["name"] = (data["name"] or "").strip()
            before = audit.snapshot(field)
            field = await customfields.update_field(field, data)
            await audit.record(
                viewer.user,
                audit.UPDATE,
                "CustomField",
                field.id,
                audit.diff(before, audit.snapshot(field)),
                info.context.request_id,
            )
            return field

        field, errors = await atomic(work)
        return CustomFieldPayload(custom_field=field, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a custom field and every value of it. Needs CM (LM for lead "
        "type fields).",
        extensions=auth("CM", "LM"),
    )
    async def custom_field_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The field.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            field = await get_object(CustomField, id, "id")
            _may_define(info, field.entity)
            if await CustomField.filter(parent_id=field.id).exists():
                raise FieldError("id", ErrorCode.CONFLICT, "Linked fields depend on it.")
            await audit.record(
                viewer.user,
                audit.DELETE,
                "CustomField",
                field.id,
                audit.snapshot(field),
                info.context.request_id,
            )
            await field.delete()

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Create a company custom field section. Needs CM.", extensions=auth("CM")
    )
    async def custom_field_section_create(
        self,
        info: Info,
        input: Annotated[CustomFieldSectionCreateInput, Described(description="Values.")],
    ) -> CustomFieldSectionPayload:
        viewer = info.context.require_viewer()

        async def work() -> CustomFieldSection:
            name = await unique_name(CustomFieldSection, input.name)
            section = await CustomFieldSection.create(
                name=name, description=input.description.strip(), position=input.position
            )
            await audit.record(
                viewer.user,
                audit.CREATE,
                "CustomFieldSection",
                section.id,
                audit.snapshot(section),
                info.context.request_id,
            )
            return section

        section, errors = await atomic(work)
        return CustomFieldSectionPayload(section=section, errors=user_errors(errors))

    @strawberry.mutation(description="Change a section. Needs CM.", extensions=auth("CM"))
    async def custom_field_section_update(
        self,
        info: Info,
        input: Annotated[CustomFieldSectionUpdateInput, Described(description="Changes.")],
    ) -> CustomFieldSectionPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> CustomFieldSection:
            section = await get_object(CustomFieldSection, data.pop("id"), "id")
            before = audit.snapshot(section)
            if "name" in data:
                data["name"] = await unique_name(
                    CustomFieldSection, data["name"] or "", exclude_id=section.id
                )
            for key, value in data.items():
                if value is not None:
                    setattr(section, key, value)
            await section.save()
            await audit.record(
                viewer.user,
                audit.UPDATE,
                "CustomFieldSection",
                section.id,
                audit.diff(before, audit.snapshot(section)),
                info.context.request_id,
            )
            return section

        section, errors = await atomic(work)
        return CustomFieldSectionPayload(section=section, errors=user_errors(errors))

    @strawberry.mutation(
        description='Delete a section; its fields move to "Without section". Needs CM.',
        extensions=auth("CM"),
    )
    async def custom_field_section_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The section.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            section = await get_object(CustomFieldSection, id, "id")
            await audit.record(
                viewer.user,
                audit.DELETE,
                "CustomFieldSection",
                section.id,
                audit.snapshot(section),
                info.context.request_id,
            )
            await section.delete()

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
