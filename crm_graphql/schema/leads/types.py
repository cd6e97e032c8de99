"""The lead object types: leads, lead types, tags, history, activities, progress steps,
saved searches, amounts per currency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from crm_graphql.context import Info
from crm_graphql.dataloaders.leads import HISTORY_ORDER, LEAD_ACTIVITY_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.events import EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import CLOSED_FROM, Lead, LeadTag
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.models.users import User
from crm_graphql.permissions.leads import (
    can_delete_lead,
    can_edit_lead,
    can_mail_from_lead,
    can_take_lead,
)
from crm_graphql.schema.common import COMPANY_TYPE, USER_TYPE, Connection, nested_connection
from crm_graphql.schema.customfields import CustomFieldType, CustomFieldValueType, value_list
from crm_graphql.schema.events import ChangeType, HistoryFirst, history_connection
from crm_graphql.schema.files import files_connection
from crm_graphql.services.leads import progress_name
from crm_graphql.values import cents_to_decimal

if TYPE_CHECKING:
    from crm_graphql.schema.files import FileType

FirstArg = Annotated[
    int | None,
    strawberry.argument(description="How many, per parent (default 10, at most 50)."),
]


@strawberry.type(description="An amount of money in one currency.")
class CurrencyAmount:
    currency: str = strawberry.field(description="ISO 4217 code.")
    amount: Decimal = strawberry.field(description="The amount, to the cent.")


@strawberry.type(description="A progress step: its fixed code and its name (from CRM setup).")
class LeadProgress:
    code: int = strawberry.field(
        description="0, 20, 40, 60, 80 open; 100, 101, 102 closed; 200 closed successfully."
    )
    name: str = strawberry.field(description="Its name (editable in CRM setup).")
    closed: bool = strawberry.field(description="100 and above.")


def lead_progress(setup: Any, code: int) -> LeadProgress:
    return LeadProgress(code=code, name=progress_name(setup, code), closed=code >= CLOSED_FROM)


@strawberry.type(
    name="LeadType",
    description="A kind of lead, with its own custom fields (define them with "
    "customFieldCreate, entity LEAD, ownerId = this type).",
)
class LeadKindType:
    id: strawberry.ID = strawberry.field(description="Lead type id.")
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(description="What the type is for.")

    @strawberry.field(
        description="Its custom fields, in display order.", graphql_type=list[CustomFieldType]
    )
    async def custom_fields(
        self, root: strawberry.Parent[LeadTypeModel], info: Info
    ) -> list[CustomField]:
        return await info.context.loaders.companies.definitions(CustomFieldEntity.LEAD, root.id)

    @strawberry.field(
        description="The custom fields shown as list and CSV columns.",
        graphql_type=list[CustomFieldType],
    )
    async def list_fields(
        self, root: strawberry.Parent[LeadTypeModel], info: Info
    ) -> list[CustomField]:
        fields = await info.context.loaders.companies.definitions(CustomFieldEntity.LEAD, root.id)
        return [f for f in fields if f.show_in_list]


@strawberry.type(name="LeadTag", description="A label with a colour; a lead has any number.")
class LeadTagType:
    id: strawberry.ID = strawberry.field(description="Tag id.")
    name: str = strawberry.field(description="Name (unique).")
    colour: str = strawberry.field(description="Colour, #rrggbb.")


@strawberry.enum(description="What a history line records.")
class LeadHistoryKind(Enum):
    CREATED = strawberry.enum_value("CREATED", description="The lead was created.")
    UPDATED = strawberry.enum_value("UPDATED", description="Other fields changed (listed).")
    PROGRESS = strawberry.enum_value("PROGRESS", description="Progress a -> b (open steps).")
    ESTIMATED_SALE = strawberry.enum_value("ESTIMATED_SALE", description="Estimated sale a -> b.")
    CLOSE_DATE = strawberry.enum_value("CLOSE_DATE", description="Estimated close date a -> b.")
    OWNER_TAKEN = strawberry.enum_value("OWNER_TAKEN", description="An unowned lead was taken.")
    OWNER_CHANGED = strawberry.enum_value("OWNER_CHANGED", description="The owner changed.")
    CLOSED = strawberry.enum_value("CLOSED", description="Progress moved to a closed step.")
    MAIL_SENT = strawberry.enum_value("MAIL_SENT", description="A mail was sent from the lead.")
    MAIL_RECEIVED = strawberry.enum_value("MAIL_RECEIVED", description="A reply was filed.")
    FORWARDED = strawberry.enum_value("FORWARDED", description="The lead was forwarded.")


@strawberry.type(name="LeadHistoryEntry", description="One event of a lead, written by the server.")
class LeadHistoryType:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    description: str = strawberry.field(description='What happened ("Progress New -> ...").')
    created_at: datetime = strawberry.field(description="When.")

    @strawberry.field(description="The kind of event.")
    def kind(self, root: strawberry.Parent[Any]) -> LeadHistoryKind:
        return LeadHistoryKind(str(root.kind))

    @strawberry.field(
        description="Who did it (null: the system or a deleted user).",
        graphql_type=USER_TYPE | None,
    )
    async def user(self, root: strawberry.Parent[Any], info: Info) -> User | None:
        if root.user_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.user_id)


@strawberry.enum(description="The kind of a lead activity.")
class LeadActivityKind(Enum):
    NOTE = strawberry.enum_value("NOTE", description="A note written by a user.")
    MAIL_SENT = strawberry.enum_value("MAIL_SENT", description="A mail sent from the lead.")
    MAIL_RECEIVED = strawberry.enum_value("MAIL_RECEIVED", description="A reply filed by mail.")
    FORWARDED = strawberry.enum_value("FORWARDED", description="The lead forwarded by mail.")


@strawberry.type(name="LeadActivity", description="A note on a lead, or a mail's body.")
class LeadActivityType:
    id: strawberry.ID = strawberry.field(description="Activity id.")
    text: str = strawberry.field(description="The text (a mail's text body).")
    sender: str = strawberry.field(description="For mail: the sender's address.")
    subject: str = strawberry.field(description="For mail: the subject.")
    created_at: datetime = strawberry.field(description="When.")

    @strawberry.field(description="The kind of activity.")
    def kind(self, root: strawberry.Parent[Any]) -> LeadActivityKind:
        return LeadActivityKind(str(root.kind))

    @strawberry.field(
        description="Who wrote it (null: received mail, or a deleted user).",
        graphql_type=USER_TYPE | None,
    )
    async def author(self, root: strawberry.Parent[Any], info: Info) -> User | None:
        if root.author_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.author_id)


@strawberry.type(description="What the viewer may do with a lead.")
class LeadViewerCan:
    edit: bool = strawberry.field(description="Change it, close it, write notes (owner or LM).")
    take: bool = strawberry.field(description="Become its owner (it has none; LW).")
    delete: bool = strawberry.field(description="Delete it (LM).")
    send_mail: bool = strawberry.field(description="Send mail from it (owner, LM).")


@strawberry.type(
    name="Lead",
    description="A prospective sale. Visible to its owner, to users who can view its "
    "managing company, and (unowned and unmanaged) to every lead user.",
)
class LeadObjectType:
    id: strawberry.ID = strawberry.field(description="Lead id.")
    full_name: str = strawberry.field(description="The prospect's full name.")
    email: str = strawberry.field(description="E-mail address (lower case).")
    phone: str = strawberry.field(description="Phone.")
    mobile: str = strawberry.field(description="Mobile phone.")
    position: str = strawberry.field(description="Position in their company.")
    prospect_company: str = strawberry.field(description="The prospect's company (text).")
    country: str = strawberry.field(description="Country.")
    language: str = strawberry.field(description="Language code (templates are offered in it).")
    product: str = strawberry.field(description="Product or category of interest.")
    channel: str = strawberry.field(description="How it came in (a CRM setup channel).")
    currency: str = strawberry.field(description="Currency of the estimated sale.")
    close_date: date | None = strawberry.field(description="Estimated close date.")
    executive_overview: str = strawberry.field(description="Executive overview.")
    description: str = strawberry.field(description="Description.")
    alarm_at: datetime | None = strawberry.field(description="Alarm (reminder) time.")
    duplicate: bool = strawberry.field(
        description="Another lead had the same e-mail when this one came in."
    )
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(
        description="Who changed what and when, newest first: its events of the change "
        "feed (`changes`). The lead's own history lines are `history`."
    )
    async def change_history(
        self, root: strawberry.Parent[Lead], info: Info, first: HistoryFirst = None
    ) -> Connection[ChangeType]:
        return await history_connection(info, EventObjectType.LEAD, root.id, first)

    @strawberry.field(description="Estimated sale, in `currency`.")
    def estimated_sale(self, root: strawberry.Parent[Lead]) -> Decimal:
        return cents_to_decimal(root.estimated_sale_cents)

    @strawberry.field(description="Its progress step.")
    async def progress(self, root: strawberry.Parent[Lead], info: Info) -> LeadProgress:
        return lead_progress(await info.context.loaders.leads.setup(), root.progress)

    @strawberry.field(description="Closed (progress 100 or above).")
    def closed(self, root: strawberry.Parent[Lead]) -> bool:
        return root.progress >= CLOSED_FROM

    @strawberry.field(
        description="Open and not changed for more days than CRM setup's stale-lead warning."
    )
    async def stale(self, root: strawberry.Parent[Lead], info: Info) -> bool:
        if root.progress >= CLOSED_FROM:
            return False
        setup = await info.context.loaders.leads.setup()
        return root.updated_at < datetime.now(UTC) - timedelta(days=setup.lead_stale_days)

    @strawberry.field(
        description="Its owner (null: unowned, anyone with LW may take it).",
        graphql_type=USER_TYPE | None,
    )
    async def owner(self, root: strawberry.Parent[Lead], info: Info) -> User | None:
        if root.owner_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.owner_id)

    @strawberry.field(
        description="The managing company, when you can see it.", graphql_type=COMPANY_TYPE | None
    )
    async def company(self, root: strawberry.Parent[Lead], info: Info) -> Company | None:
        if root.company_id is None:
            return None
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(description="Its lead type.", graphql_type=LeadKindType | None)
    async def lead_type(self, root: strawberry.Parent[Lead], info: Info) -> LeadTypeModel | None:
        if root.lead_type_id is None:
            return None
        return await info.context.loaders.leads.lead_type.load(root.lead_type_id)

    @strawberry.field(description="Its tags, by name.", graphql_type=list[LeadTagType])
    async def tags(self, root: strawberry.Parent[Lead], info: Info) -> list[LeadTag]:
        return await info.context.loaders.leads.tags.load(root.id)

    @strawberry.field(description="Every custom field of its lead type with this lead's value.")
    async def custom_fields(
        self, root: strawberry.Parent[Lead], info: Info
    ) -> list[CustomFieldValueType]:
        if root.lead_type_id is None:
            return []
        definitions = await info.context.loaders.companies.definitions(
            CustomFieldEntity.LEAD, root.lead_type_id
        )
        return value_list(definitions, await info.context.loaders.leads.values.load(root.id))

    @strawberry.field(description="Its history, oldest first.")
    async def history(
        self, root: strawberry.Parent[Lead], info: Info, first: FirstArg = None
    ) -> Connection[LeadHistoryType]:
        loaders = info.context.loaders.leads
        return await nested_connection(
            info, loaders.history, loaders.history_count, root.id, first, HISTORY_ORDER
        )

    @strawberry.field(description="Notes and mail bodies, newest first.")
    async def activities(
        self, root: strawberry.Parent[Lead], info: Info, first: FirstArg = None
    ) -> Connection[LeadActivityType]:
        loaders = info.context.loaders.leads
        return await nested_connection(
            info, loaders.activities, loaders.activity_count, root.id, first, LEAD_ACTIVITY_ORDER
        )

    @strawberry.field(description="Files attached to the lead, newest first.")
    async def files(
        self, root: strawberry.Parent[Lead], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[FileType, strawberry.lazy("crm_graphql.schema.files")]]:
        return await files_connection(info, FileOwner.LEAD, root.id, first)

    @strawberry.field(description="What you may do with this lead.")
    def viewer_can(self, root: strawberry.Parent[Lead], info: Info) -> LeadViewerCan:
        viewer = info.context.viewer
        if viewer is None:
            return LeadViewerCan(edit=False, take=False, delete=False, send_mail=False)
        return LeadViewerCan(
            edit=can_edit_lead(viewer, root),
            take=can_take_lead(viewer, root),
            delete=can_delete_lead(viewer, root),
            send_mail=can_mail_from_lead(viewer, root),
        )


@strawberry.type(name="SavedLeadSearch", description="A named lead filter of yours.")
class SavedLeadSearchType:
    id: strawberry.ID = strawberry.field(description="Saved search id.")
    name: str = strawberry.field(description="Its name (unique among yours).")
    created_at: datetime = strawberry.field(description="When it was saved.")

    @strawberry.field(
        description="The LeadFilter as JSON: pass it as `filter` to `leads`, or use "
        "`leads(savedSearchId:)`."
    )
    def filter(self, root: strawberry.Parent[Any]) -> JSON:
        return root.filter_json
