"""Types, filters, inputs and payloads of contacts."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from tortoise.expressions import Q

from crm_graphql.context import Info
from crm_graphql.dataloaders.companies import ACTIVITY_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.permissions.companies import can_edit_company, can_manage_company
from crm_graphql.schema.common import (
    COMPANY_TYPE,
    BooleanFilter,
    CompanyRefFilter,
    Connection,
    DateTimeFilter,
    IDFilter,
    SortDirection,
    StringFilter,
    UserError,
    nested_connection,
)
from crm_graphql.schema.companies import ViewerCan
from crm_graphql.schema.customfields import (
    CustomFieldFilter,
    CustomFieldValueInput,
    CustomFieldValueType,
    custom_fields_q,
    value_list,
)
from crm_graphql.schema.events import ChangeType, HistoryFirst, history_connection
from crm_graphql.schema.files import files_connection
from crm_graphql.services.listing import FilterSpec, Relation

if TYPE_CHECKING:
    from crm_graphql.schema.activities import ActivityType
    from crm_graphql.schema.files import FileType


@strawberry.type(name="Contact", description="A person at a company. Contacts never log in.")
class ContactType:
    id: strawberry.ID = strawberry.field(description="Contact id.")
    full_name: str = strawberry.field(description="Full name.")
    email: str = strawberry.field(description="E-mail address.")
    phone: str = strawberry.field(description="Phone.")
    mobile: str = strawberry.field(description="Mobile phone.")
    position: str = strawberry.field(description="Job title.")
    description: str = strawberry.field(description="Notes about the person.")
    disabled: bool = strawberry.field(description="No longer a contact.")
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(
        description="Who changed what and when, newest first: its events of the change "
        "feed (`changes`)."
    )
    async def history(
        self, root: strawberry.Parent[Contact], info: Info, first: HistoryFirst = None
    ) -> Connection[ChangeType]:
        return await history_connection(info, EventObjectType.CONTACT, root.id, first)

    @strawberry.field(
        description="The company the contact belongs to.", graphql_type=COMPANY_TYPE | None
    )
    async def company(self, root: strawberry.Parent[Contact], info: Info) -> Company | None:
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(description="Activities on this contact, newest first.")
    async def activities(
        self,
        root: strawberry.Parent[Contact],
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="How many (default 10, at most 50).")
        ] = None,
    ) -> Connection[Annotated[ActivityType, strawberry.lazy("crm_graphql.schema.activities")]]:
        loaders = info.context.loaders.companies
        return await nested_connection(
            info,
            loaders.contact_activities,
            loaders.contact_activity_count,
            root.id,
            first,
            ACTIVITY_ORDER,
        )

    @strawberry.field(description="Files attached to the contact, newest first.")
    async def files(
        self,
        root: strawberry.Parent[Contact],
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="How many (default 10, at most 50).")
        ] = None,
    ) -> Connection[Annotated[FileType, strawberry.lazy("crm_graphql.schema.files")]]:
        return await files_connection(info, FileOwner.CONTACT, root.id, first)

    @strawberry.field(description="Every contact custom field with this contact's value.")
    async def custom_fields(
        self, root: strawberry.Parent[Contact], info: Info
    ) -> list[CustomFieldValueType]:
        loaders = info.context.loaders.companies
        definitions = await loaders.definitions(CustomFieldEntity.CONTACT)
        return value_list(definitions, await loaders.contact_values.load(root.id))

    @strawberry.field(description="What you may do with this contact (the company's rights).")
    async def viewer_can(self, root: strawberry.Parent[Contact], info: Info) -> ViewerCan:
        viewer = info.context.viewer
        company = await info.context.loaders.companies.company.load(root.company_id)
        if viewer is None or company is None:
            return ViewerCan(edit=False, manage=False, delete=False)
        edit = can_edit_company(viewer, company)
        return ViewerCan(edit=edit, manage=can_manage_company(viewer, company), delete=edit)


@strawberry.input(description="Conditions on contacts; all given conditions must hold.")
class ContactFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET, description="Text in the name, e-mail or position."
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Contact id.")
    full_name: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Full name."
    )
    email: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    position: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Job title."
    )
    disabled: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Disabled flag."
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its company."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Last change."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Conditions on custom field values."
    )
    and_: list[ContactFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[ContactFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: ContactFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def contact_search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    return (
        Q(**{f"{prefix}full_name__icontains": text})
        | Q(**{f"{prefix}email__icontains": text})
        | Q(**{f"{prefix}position__icontains": text})
    )


CONTACT_FILTER_SPEC: FilterSpec = {
    "search": contact_search_q,
    "id": "id",
    "full_name": "full_name",
    "email": "email",
    "position": "position",
    "disabled": "disabled",
    "company": Relation("company", {"id": "id", "name": "name"}),
    "updated_at": "updated_at",
    "custom_fields": lambda value, prefix: custom_fields_q(value, prefix),
}


@strawberry.enum(description="Columns contacts can be sorted by.")
class ContactOrderField(Enum):
    FULL_NAME = strawberry.enum_value("full_name", description="Full name.")
    EMAIL = strawberry.enum_value("email", description="E-mail.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Last change.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class ContactOrder:
    field: ContactOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


@strawberry.input(description="A new contact.")
class ContactCreateInput:
    company_id: strawberry.ID = strawberry.field(description="Its company (one you can edit).")
    full_name: str = strawberry.field(description="Full name.")
    email: str = strawberry.field(description="E-mail address.")
    phone: str = strawberry.field(default="", description="Phone.")
    mobile: str = strawberry.field(default="", description="Mobile phone.")
    position: str = strawberry.field(default="", description="Job title.")
    description: str = strawberry.field(default="", description="Notes.")
    disabled: bool = strawberry.field(default=False, description="Disabled flag.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None, description="Custom field values."
    )


@strawberry.input(description="Changes to a contact; omitted fields stay as they are.")
class ContactUpdateInput:
    id: strawberry.ID = strawberry.field(description="The contact.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Move to another company you can edit."
    )
    full_name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone.")
    mobile: str | None = strawberry.field(default=strawberry.UNSET, description="Mobile.")
    position: str | None = strawberry.field(default=strawberry.UNSET, description="Job title.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Notes.")
    disabled: bool | None = strawberry.field(default=strawberry.UNSET, description="Disabled.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Custom field values to set."
    )


@strawberry.type(description="Result of contactCreate or contactUpdate.")
class ContactPayload:
    contact: Contact | None = strawberry.field(
        graphql_type=ContactType | None, description="The contact."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
