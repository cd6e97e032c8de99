"""GraphQL types of contract templates (SPEC §5)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_graphql.models.files import StoredFile
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.schema.common import UserError
from crm_graphql.schema.files import FileType


@strawberry.type(
    name="ContractTemplate",
    description="Named HTML with macros (`_name_contract_`, `_company_name_`, "
    "`_custom_<fieldid>_`, `_format_short_time_`...), rendered to a contract's PDF.",
)
class ContractTemplateType:
    id: strawberry.ID = strawberry.field(description="Template id.")
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(description="What it is for.")
    html: str = strawberry.field(description="The HTML with macros.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Send it back on update (STALE if changed).")


@strawberry.input(description="A new contract template.")
class ContractTemplateCreateInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")
    html: str = strawberry.field(default="", description="The HTML with macros.")


@strawberry.input(description="Changes to a contract template; omitted fields stay.")
class ContractTemplateUpdateInput:
    id: strawberry.ID = strawberry.field(description="The template.")
    name: str | None = strawberry.field(default=None, description="Name (unique).")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    html: str | None = strawberry.field(default=None, description="The HTML with macros.")
    version: int | None = strawberry.field(
        default=None, description="The version you read; refused (STALE) when it changed."
    )


@strawberry.type(description="Result of a contract template mutation.")
class ContractTemplatePayload:
    template: ContractTemplate | None = strawberry.field(
        graphql_type=ContractTemplateType | None, description="The template."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of contractGeneratePdf.")
class ContractGeneratePdfPayload:
    file: StoredFile | None = strawberry.field(
        graphql_type=FileType | None, description="The PDF, attached to the contract's files."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
