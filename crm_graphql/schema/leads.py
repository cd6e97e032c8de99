"""Types, filters, inputs and payloads of leads, lead types, tags, history, activities
and saved searches (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from tortoise.expressions import Q, Subquery

from crm_graphql.context import Info
from crm_graphql.dataloaders.leads import HISTORY_ORDER, LEAD_ACTIVITY_ORDER
from crm_graphql.ids import id_number
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomField, CustomFieldEntity
from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import (
    CLOSED_FROM,
    PROGRESS_NAMES,
    Lead,
    LeadActivity,
    LeadTag,
    LeadTagLink,
    SavedLeadSearch,
)
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import company_ids_seen_by
from crm_graphql.permissions.leads import (
    can_delete_lead,
    can_edit_lead,
    can_mail_from_lead,
    can_take_lead,
)
from crm_graphql.schema.common import (
    COMPANY_TYPE,
    USER_TYPE,
    CompanyRefFilter,
    Connection,
    DateTimeFilter,
    IDFilter,
    IntFilter,
    SortDirection,
    StringFilter,
    UserError,
    UserRefFilter,
    nested_connection,
)
from crm_graphql.schema.companies import USER_REF_SPEC, MoneyFilter
from crm_graphql.schema.customfields import (
    CustomFieldFilter,
    CustomFieldType,
    CustomFieldValueInput,
    CustomFieldValueType,
    custom_fields_q,
    value_list,
)
from crm_graphql.schema.files import files_connection
from crm_graphql.services.leads import progress_name
from crm_graphql.services.listing import FilterSpec, ListError, Relation, has_condition
from crm_graphql.services.orm import lookup_q
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


# ---------------------------------------------------------------- filters


@strawberry.input(description="Conditions on a date; all given conditions must hold.")
class LeadDateFilter:
    eq: date | None = strawberry.field(default=strawberry.UNSET, description="On.")
    lt: date | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: date | None = strawberry.field(default=strawberry.UNSET, description="On or before.")
    gt: date | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: date | None = strawberry.field(default=strawberry.UNSET, description="On or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no date. False: has one."
    )


@strawberry.input(description="Conditions on a progress code (0..80 open, 100..102 and 200).")
class ProgressFilter(IntFilter):
    @staticmethod
    def coerce(value: object) -> object:
        """An unknown code is the client's error: it would silently match nothing."""
        for code in value if isinstance(value, list) else [value]:
            if code not in PROGRESS_NAMES:
                known = ", ".join(str(c) for c in PROGRESS_NAMES)
                raise ListError(f"Unknown progress code {code}; one of {known}.")
        return value


@strawberry.input(
    description="Conditions on leads; all given conditions must hold. Without `showFinished` "
    "or a progress condition, only open leads (progress below 100) are listed."
)
class LeadFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A number finds the lead with that id; other text is looked for in the "
        "name, e-mail, prospect company and description (ignoring case).",
    )
    show_finished: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Include closed leads (progress 100 and above)."
    )
    unowned: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: only leads without owner. False: owned."
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Lead id.")
    owner: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its owner."
    )
    full_name: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    email: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    prospect_company: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Prospect company (text)."
    )
    country: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Country."
    )
    language: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Language."
    )
    product: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Product or category."
    )
    channel: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Channel."
    )
    currency: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Currency."
    )
    lead_type: IDFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Lead type id."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Conditions on the type's custom field values."
    )
    progress: ProgressFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Progress code (a condition lists closed leads too)."
    )
    estimated_sale: MoneyFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated sale (e.g. gte: 1000)."
    )
    tags: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Has any of these tags."
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The managing company."
    )
    duplicate: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Flagged as a duplicate e-mail."
    )
    close_date: LeadDateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated close date range."
    )
    created_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Creation time range."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Last change range."
    )
    and_: list[LeadFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[LeadFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: LeadFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    if text.isdigit():
        # "²" is a digit to isdigit() but no number: it, like an id out of range, finds nothing
        number = id_number(text)
        return lookup_q({f"{prefix}id": number}) if number is not None else Q(id__in=[])
    return Q(
        *(
            Q(**{f"{prefix}{column}__icontains": text})
            for column in ("full_name", "email", "prospect_company", "description")
        ),
        join_type="OR",
    )


def _show_finished_q(value: bool, prefix: str = "") -> Q:
    return Q() if value else lookup_q({f"{prefix}progress__lt": CLOSED_FROM})


def _unowned_q(value: bool, prefix: str = "") -> Q:
    return lookup_q({f"{prefix}owner_id__isnull": value})


def _tags_q(values: list[Any], prefix: str = "") -> Q:
    ids = [IDFilter.coerce(v) for v in values]
    if not ids:
        return Q()
    links = LeadTagLink.filter(tag_id__in=ids).values("lead_id")
    return lookup_q({f"{prefix}id__in": Subquery(links)})


LEAD_FILTER_SPEC: FilterSpec = {
    "search": search_q,
    "show_finished": _show_finished_q,
    "unowned": _unowned_q,
    "id": "id",
    "owner": Relation("owner", USER_REF_SPEC),
    "full_name": "full_name",
    "email": "email",
    "prospect_company": "prospect_company",
    "country": "country",
    "language": "language",
    "product": "product",
    "channel": "channel",
    "currency": "currency",
    "lead_type": "lead_type_id",
    "custom_fields": lambda value, prefix: custom_fields_q(value, prefix),
    "progress": "progress",
    "estimated_sale": "estimated_sale_cents",
    "tags": _tags_q,
    # A lead may be visible while its managing company is not (its owner's).
    "company": Relation("company", {"id": "id", "name": "name"}, visible=company_ids_seen_by),
    "duplicate": "duplicate",
    "close_date": "close_date",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def default_open_q(flt: Any) -> Q:
    """Open leads only, unless the filter asks for closed ones (showFinished or a
    progress condition, at any level, as contracts' status)."""
    if has_condition(flt, "show_finished", "progress"):
        return Q()
    return Q(progress__lt=CLOSED_FROM)


@strawberry.enum(description="Columns leads can be sorted by.")
class LeadOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="Creation time.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Last change.")
    ESTIMATED_SALE = strawberry.enum_value("estimated_sale_cents", description="Estimated sale.")
    CLOSE_DATE = strawberry.enum_value(
        "close_key", description="Estimated close date (leads without one last when ascending)."
    )
    PROGRESS = strawberry.enum_value("progress", description="Progress code.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class LeadOrder:
    field: LeadOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


# ---------------------------------------------------------------- inputs and payloads


@strawberry.input(description="A new lead.")
class LeadCreateInput:
    full_name: str = strawberry.field(description="The prospect's full name (required).")
    email: str = strawberry.field(default="", description="E-mail address.")
    phone: str = strawberry.field(default="", description="Phone.")
    mobile: str = strawberry.field(default="", description="Mobile phone.")
    position: str = strawberry.field(default="", description="Position.")
    prospect_company: str = strawberry.field(default="", description="The prospect's company.")
    country: str = strawberry.field(default="", description="Country.")
    language: str = strawberry.field(default="", description="Language code.")
    product: str = strawberry.field(default="", description="Product or category.")
    channel: str = strawberry.field(default="", description="Channel (one of CRM setup's).")
    estimated_sale: str = strawberry.field(
        default="0", description="Estimated sale as decimal text (e.g. 2400.00), not negative."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code (default: CRM setup's currency)."
    )
    close_date: date | None = strawberry.field(default=None, description="Estimated close date.")
    progress: int = strawberry.field(default=0, description="Progress code (default 0, New).")
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; default: you. Null: unowned."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Managing company (one you can see); default: your company.",
    )
    lead_type_id: strawberry.ID | None = strawberry.field(default=None, description="Lead type.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None, description="Values of the lead type's custom fields."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Tags.")
    executive_overview: str = strawberry.field(default="", description="Executive overview.")
    description: str = strawberry.field(default="", description="Description.")
    alarm_at: datetime | None = strawberry.field(default=None, description="Alarm time.")


@strawberry.input(description="Changes to a lead; omitted fields stay as they are.")
class LeadUpdateInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    full_name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone.")
    mobile: str | None = strawberry.field(default=strawberry.UNSET, description="Mobile.")
    position: str | None = strawberry.field(default=strawberry.UNSET, description="Position.")
    prospect_company: str | None = strawberry.field(
        default=strawberry.UNSET, description="Prospect company."
    )
    country: str | None = strawberry.field(default=strawberry.UNSET, description="Country.")
    language: str | None = strawberry.field(default=strawberry.UNSET, description="Language.")
    product: str | None = strawberry.field(default=strawberry.UNSET, description="Product.")
    channel: str | None = strawberry.field(default=strawberry.UNSET, description="Channel.")
    estimated_sale: str | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated sale as decimal text."
    )
    currency: str | None = strawberry.field(default=strawberry.UNSET, description="Currency.")
    close_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="Estimated close date; null clears it."
    )
    progress: int | None = strawberry.field(default=strawberry.UNSET, description="Progress code.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; null: unowned."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Managing company (one you can see); null: none."
    )
    lead_type_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Lead type; changing it drops the old type's custom values.",
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Custom field values to set (others stay)."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replace the tags with these."
    )
    executive_overview: str | None = strawberry.field(
        default=strawberry.UNSET, description="Executive overview."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    alarm_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Alarm time; null clears it."
    )


@strawberry.type(description="Result of a lead mutation.")
class LeadPayload:
    lead: Lead | None = strawberry.field(
        graphql_type=LeadObjectType | None, description="The lead."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of leadCreate.")
class LeadCreatePayload:
    lead: Lead | None = strawberry.field(
        graphql_type=LeadObjectType | None,
        description="The new lead (null for a web-form token, which may only create).",
    )
    lead_id: strawberry.ID | None = strawberry.field(description="The new lead's id.")
    duplicate: bool = strawberry.field(
        description="Another lead had this e-mail: the new one is flagged as a duplicate. "
        "Always false for a web-form token (it must not learn which e-mails are known)."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="One lead's outcome in a mass operation.")
class LeadOperationResult:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    ok: bool = strawberry.field(description="Done (each lead in its own transaction).")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of a mass operation on leads, lead by lead.")
class LeadMassPayload:
    results: list[LeadOperationResult] = strawberry.field(description="One per lead id given.")
    succeeded: int = strawberry.field(description="How many were done.")
    failed: int = strawberry.field(description="How many were refused.")


@strawberry.input(description="A lead note.")
class LeadActivityInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead (one you can edit).")
    text: str = strawberry.field(description="The note.")


@strawberry.type(description="Result of leadActivityCreate.")
class LeadActivityPayload:
    activity: LeadActivity | None = strawberry.field(
        graphql_type=LeadActivityType | None, description="The note."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A lead type.")
class LeadTypeInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.type(description="Result of a lead type mutation.")
class LeadTypePayload:
    lead_type: LeadTypeModel | None = strawberry.field(
        graphql_type=LeadKindType | None, description="The lead type."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A lead tag.")
class LeadTagInput:
    name: str = strawberry.field(description="Name (unique, at most 60 characters).")
    colour: str = strawberry.field(default="#808080", description="Colour, #rrggbb.")


@strawberry.type(description="Result of a lead tag mutation.")
class LeadTagPayload:
    tag: LeadTag | None = strawberry.field(graphql_type=LeadTagType | None, description="The tag.")
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


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


@strawberry.type(description="Result of leadSearchSave.")
class SavedLeadSearchPayload:
    saved_search: SavedLeadSearch | None = strawberry.field(
        graphql_type=SavedLeadSearchType | None, description="The saved search."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
