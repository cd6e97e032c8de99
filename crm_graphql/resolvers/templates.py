"""Contract templates (CRUD needs CM, reading CR) and contractGeneratePdf (the contract
must be editable: CW and edit access to its company)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.files import StoredFile
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.common import editable_contract, get_or_404, input_fields
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.templates import (
    ContractGeneratePdfPayload,
    ContractTemplateCreateInput,
    ContractTemplatePayload,
    ContractTemplateType,
    ContractTemplateUpdateInput,
)
from crm_graphql.services import documents
from crm_graphql.services import templates as service
from crm_graphql.services.languages import LANGUAGES, check_language
from crm_graphql.services.mutations import atomic
from crm_graphql.services.users import get_object

Described = strawberry.argument


@strawberry.type
class TemplatesQuery:
    @strawberry.field(
        description="Every contract template, by name.",
        extensions=auth("CR"),
        graphql_type=list[ContractTemplateType],
    )
    async def contract_templates(self, info: Info) -> list[ContractTemplate]:
        return await ContractTemplate.all().order_by("name", "id")

    @strawberry.field(description="One contract template.", extensions=auth("CR"))
    async def contract_template(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Template id.")]
    ) -> ContractTemplateType:
        return await get_or_404(ContractTemplate, ContractTemplate.all(), id)


@strawberry.type
class TemplatesMutation:
    @strawberry.mutation(description="Create a contract template. Needs CM.", extensions=auth("CM"))
    async def contract_template_create(
        self,
        info: Info,
        input: Annotated[ContractTemplateCreateInput, Described(description="Values.")],
    ) -> ContractTemplatePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        template, errors = await atomic(
            lambda: service.create_template(viewer, data, info.context.request_id)
        )
        return ContractTemplatePayload(template=template, errors=user_errors(errors))

    @strawberry.mutation(description="Change a contract template. Needs CM.", extensions=auth("CM"))
    async def contract_template_update(
        self,
        info: Info,
        input: Annotated[ContractTemplateUpdateInput, Described(description="Changes.")],
    ) -> ContractTemplatePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        template_id = data.pop("id")

        async def work() -> ContractTemplate:
            template = await get_object(ContractTemplate, template_id, "id")
            return await service.update_template(viewer, template, data, info.context.request_id)

        template, errors = await atomic(work)
        return ContractTemplatePayload(template=template, errors=user_errors(errors))

    @strawberry.mutation(description="Delete a contract template. Needs CM.", extensions=auth("CM"))
    async def contract_template_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The template.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            template = await get_object(ContractTemplate, id, "id")
            await service.delete_template(viewer, template, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Render a contract template for a contract you can edit (CW) and attach "
        "the PDF to the contract's files. Macros are replaced by the contract's values, "
        "HTML-escaped; unknown macros stay as written.",
        extensions=auth("CW"),
    )
    async def contract_generate_pdf(
        self,
        info: Info,
        contract_id: Annotated[strawberry.ID, Described(description="The contract.")],
        template_id: Annotated[strawberry.ID, Described(description="The template.")],
        language: Annotated[
            str,
            Described(
                description="Language of the date macros (_format_long_time_): "
                + ", ".join(LANGUAGES)
                + "."
            ),
        ] = "en",
    ) -> ContractGeneratePdfPayload:
        viewer = info.context.require_viewer()

        async def work() -> StoredFile:
            code = check_language(language)
            contract = await editable_contract(info, contract_id, "contractId")
            template = await get_object(ContractTemplate, template_id, "templateId")
            return await documents.attach_contract_pdf(
                contract, template, viewer.user, info.context.request_id, code
            )

        stored, errors = await atomic(work)
        return ContractGeneratePdfPayload(file=stored, errors=user_errors(errors))
