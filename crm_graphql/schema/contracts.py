"""Types, filters, inputs and payloads of contracts and contract types (SPEC §5)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from tortoise.expressions import Q, Subquery

from crm_graphql.context import Info
from crm_graphql.dataloaders.contracts import INVOICE_LINK_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractType
from crm_graphql.models.contracts import ContractStatus as ContractStatusModel
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.events import EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import can_manage_company
from crm_graphql.permissions.contracts import can_edit_contract
from crm_graphql.schema.common import (
    COMPANY_TYPE,
    USER_TYPE,
    BooleanFilter,
    Connection,
    DateTimeFilter,
    Edge,
    IDFilter,
    PageInfo,
    SortDirection,
    StringFilter,
    UserError,
    UserRefFilter,
    nested_page_size,
)
from crm_graphql.schema.companies import REF_SPEC, USER_REF_SPEC, ViewerCan
from crm_graphql.schema.customfields import (
    CustomFieldFilter,
    CustomFieldType,
    CustomFieldValueInput,
    CustomFieldValueType,
    custom_fields_q,
    value_list,
)
from crm_graphql.schema.events import ChangeType, HistoryFirst, history_connection
from crm_graphql.schema.files import files_connection
from crm_graphql.services.listing import (
    FilterSpec,
    ListError,
    Relation,
    encode_cursor,
    has_condition,
)
from crm_graphql.services.orm import lookup_q

if TYPE_CHECKING:
    from crm_graphql.schema.files import FileType
    from crm_graphql.schema.invoices import InvoiceType


@strawberry.enum(name="ContractStatus", description="The state of a contract.")
class ContractStatus(Enum):
    INACTIVE = strawberry.enum_value("INACTIVE", description="Not in force (CSV status 0).")
    ACTIVE = strawberry.enum_value("ACTIVE", description="In force (CSV status 1).")
    PENDING = strawberry.enum_value("PENDING", description="Not yet in force (CSV status 2).")


@strawberry.type(
    name="ContractType",
    description='A kind of contract ("Product contract", "Services contract"), with its own '
    "custom fields.",
)
class ContractKindType:
    id: strawberry.ID = strawberry.field(description="Contract type id.")
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(description="What the type is for.")

    @strawberry.field(
        description="Its custom fields, in display order (define them with customFieldCreate, "
        "entity CONTRACT, ownerId = this type).",
        graphql_type=list[CustomFieldType],
    )
    async def custom_fields(
        self, root: strawberry.Parent[ContractType], info: Info
    ) -> list[CustomField]:
        return await info.context.loaders.companies.definitions(CustomFieldEntity.CONTRACT, root.id)

    @strawberry.field(
        description="The custom fields shown as list and CSV columns.",
        graphql_type=list[CustomFieldType],
    )
    async def list_fields(
        self, root: strawberry.Parent[ContractType], info: Info
    ) -> list[CustomField]:
        fields = await info.context.loaders.companies.definitions(
            CustomFieldEntity.CONTRACT, root.id
        )
        return [f for f in fields if f.show_in_list]


FirstArg = Annotated[
    int | None,
    strawberry.argument(description="How many, per parent (default 10, at most 50)."),
]


@strawberry.type(
    name="Contract",
    description="A contract with a company. Visible with its company; a private one only "
    "to the company's manager and the users of the manager's company.",
)
class ContractObjectType:
    id: strawberry.ID = strawberry.field(description="Contract id.")
    reference: str = strawberry.field(description="Short name shown in lists (unique per company).")
    number: str | None = strawberry.field(
        description="Contract number, the external code (unique when set)."
    )
    description: str = strawberry.field(description="Description.")
    date_begin: date = strawberry.field(description="Start date.")
    date_end: date | None = strawberry.field(description="End date (not before the start).")
    private: bool = strawberry.field(
        description="Visible only to the company's manager and the users of the manager's company."
    )
    sla_id: int | None = strawberry.field(description="Id of the SLA that applies.")
    group_id: int | None = strawberry.field(description="Id of the group in charge.")
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(
        description="Who changed what and when, newest first: its events of the change "
        "feed (`changes`)."
    )
    async def history(
        self, root: strawberry.Parent[Contract], info: Info, first: HistoryFirst = None
    ) -> Connection[ChangeType]:
        return await history_connection(info, EventObjectType.CONTRACT, root.id, first)

    @strawberry.field(description="Its state.")
    def status(self, root: strawberry.Parent[Contract]) -> ContractStatus:
        return ContractStatus(ContractStatusModel(root.status).value)

    @strawberry.field(
        description="The company the contract is with.", graphql_type=COMPANY_TYPE | None
    )
    async def company(self, root: strawberry.Parent[Contract], info: Info) -> Company | None:
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(
        description="Its contract type (null when it has none).",
        graphql_type=ContractKindType | None,
    )
    async def contract_type(
        self, root: strawberry.Parent[Contract], info: Info
    ) -> ContractType | None:
        if root.contract_type_id is None:
            return None
        return await info.context.loaders.contracts.contract_type.load(root.contract_type_id)

    @strawberry.field(
        description="Its owner (the user who manages it).", graphql_type=USER_TYPE | None
    )
    async def owner(self, root: strawberry.Parent[Contract], info: Info) -> User | None:
        if root.owner_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.owner_id)

    @strawberry.field(
        description="Related contracts you can see, by id.", graphql_type="list[ContractObjectType]"
    )
    async def related_contracts(
        self, root: strawberry.Parent[Contract], info: Info
    ) -> list[Contract]:
        return await info.context.loaders.contracts.related.load(root.id)

    @strawberry.field(
        description="Related invoices you can see (IR), newest first. Change them with "
        "contractUpdate(relatedInvoiceIds) or from the invoice side.",
        graphql_type=Connection[
            Annotated["InvoiceType", strawberry.lazy("crm_graphql.schema.invoices")]
        ],
    )
    async def related_invoices(
        self, root: strawberry.Parent[Contract], info: Info, first: FirstArg = None
    ) -> Connection[Invoice]:
        limits = info.context.settings.limits
        size = nested_page_size(first, limits.nested_page_size_default, limits.nested_page_size_max)
        loaders = info.context.loaders.contracts
        links = await loaders.invoice_links.load((root.id, size))
        invoices = await loaders.related_invoices(root.id, size)
        by_id = {i.id: i for i in invoices}
        edges = [
            Edge(cursor=encode_cursor(link, INVOICE_LINK_ORDER), node=by_id[link.invoice_id])
            for link in links[:size]
            if link.invoice_id in by_id
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(links) > size,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _count=lambda: loaders.invoice_count.load(root.id),
        )

    @strawberry.field(
        description="Every custom field of its contract type with this contract's value."
    )
    async def custom_fields(
        self, root: strawberry.Parent[Contract], info: Info
    ) -> list[CustomFieldValueType]:
        if root.contract_type_id is None:
            return []
        definitions = await info.context.loaders.companies.definitions(
            CustomFieldEntity.CONTRACT, root.contract_type_id
        )
        return value_list(definitions, await info.context.loaders.contracts.values.load(root.id))

    @strawberry.field(description="Files attached to the contract, newest first.")
    async def files(
        self, root: strawberry.Parent[Contract], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[FileType, strawberry.lazy("crm_graphql.schema.files")]]:
        return await files_connection(info, FileOwner.CONTRACT, root.id, first)

    @strawberry.field(description="What you may do with this contract (the company's rights).")
    async def viewer_can(self, root: strawberry.Parent[Contract], info: Info) -> ViewerCan:
        viewer = info.context.viewer
        company = await info.context.loaders.companies.company.load(root.company_id)
        if viewer is None or company is None:
            return ViewerCan(edit=False, manage=False, delete=False)
        edit = can_edit_contract(viewer, company, root)
        return ViewerCan(edit=edit, manage=can_manage_company(viewer, company), delete=edit)


@strawberry.input(description="Conditions on a contract's status.")
class ContractStatusFilter:
    eq: ContractStatus | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: ContractStatus | None = strawberry.field(
        default=strawberry.UNSET, description="Not equal to."
    )
    in_: list[ContractStatus] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="One of."
    )


@strawberry.input(description="Conditions on a date; all given conditions must hold.")
class ContractDateFilter:
    eq: date | None = strawberry.field(default=strawberry.UNSET, description="On.")
    lt: date | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: date | None = strawberry.field(default=strawberry.UNSET, description="On or before.")
    gt: date | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: date | None = strawberry.field(default=strawberry.UNSET, description="On or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no date. False: has one."
    )


@strawberry.input(description="Conditions on a contract's company.")
class ContractCompanyFilter:
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Company id.")
    name: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Company name."
    )
    role: IDFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Company role id."
    )
    manager: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Company manager."
    )


@strawberry.input(description="Conditions on a related object (id, name).")
class ContractTypeRefFilter:
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Type id.")
    name: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="Type name.")


@strawberry.input(
    description="Conditions on contracts; all given conditions must hold. Without any "
    "status condition, only ACTIVE contracts are listed."
)
class ContractFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text in the reference, number, company name or a custom field value "
        "(ignoring case).",
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Contract id.")
    reference: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Reference."
    )
    number: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Contract number."
    )
    status: ContractStatusFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Status (default: ACTIVE only)."
    )
    private: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Private flag."
    )
    company: ContractCompanyFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its company (id, name, role, manager)."
    )
    contract_type: ContractTypeRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its contract type."
    )
    owner: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its owner."
    )
    date_begin: ContractDateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Start date range."
    )
    date_end: ContractDateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="End date range."
    )
    ending_within_days: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Ends between today and this many days from today (inclusive).",
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Last change."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Conditions on custom field values."
    )
    and_: list[ContractFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[ContractFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: ContractFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    values = CustomFieldValue.filter(
        value__icontains=text,
        field_id__in=Subquery(CustomField.filter(entity=CustomFieldEntity.CONTRACT).values("id")),
    ).values("object_id")
    return Q(
        Q(**{f"{prefix}reference__icontains": text}),
        Q(**{f"{prefix}number__icontains": text}),
        Q(**{f"{prefix}company__name__icontains": text}),
        lookup_q({f"{prefix}id__in": Subquery(values)}),
        join_type="OR",
    )


def ending_within_q(days: int, prefix: str = "") -> Q:
    if not 0 <= days <= 36_500:
        raise ListError("endingWithinDays must be between 0 and 36500.")
    today = date.today()
    return lookup_q(
        {
            f"{prefix}date_end__gte": today,
            f"{prefix}date_end__lte": today + timedelta(days=days),
        }
    )


COMPANY_SPEC: FilterSpec = {
    "id": "id",
    "name": "name",
    "role": "role_id",
    "manager": Relation("manager", USER_REF_SPEC),
}
CONTRACT_FILTER_SPEC: FilterSpec = {
    "search": search_q,
    "id": "id",
    "reference": "reference",
    "number": "number",
    "status": "status",
    "private": "private",
    "company": Relation("company", COMPANY_SPEC),
    "contract_type": Relation("contract_type", REF_SPEC),
    "owner": Relation("owner", USER_REF_SPEC),
    "date_begin": "date_begin",
    "date_end": "date_end",
    "ending_within_days": ending_within_q,
    "updated_at": "updated_at",
    "custom_fields": lambda value, prefix: custom_fields_q(value, prefix),
}


def default_status_q(flt: Any) -> Q:
    """ACTIVE only, unless the filter has a status condition (SPEC §5)."""
    if has_condition(flt, "status"):
        return Q()
    return Q(status=ContractStatusModel.ACTIVE)


@strawberry.enum(description="Columns contracts can be sorted by.")
class ContractOrderField(Enum):
    REFERENCE = strawberry.enum_value("reference", description="Reference.")
    DATE_BEGIN = strawberry.enum_value("date_begin", description="Start date.")
    STATUS = strawberry.enum_value("status", description="Status.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Last change.")
    CREATED_AT = strawberry.enum_value("created_at", description="Creation time.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class ContractOrder:
    field: ContractOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


@strawberry.input(description="A new contract, with a company you can edit.")
class ContractCreateInput:
    company_id: strawberry.ID = strawberry.field(description="The company (one you can edit).")
    reference: str = strawberry.field(description="Short name (unique per company).")
    number: str | None = strawberry.field(
        default=None, description="Contract number (unique when set)."
    )
    description: str = strawberry.field(default="", description="Description.")
    date_begin: date = strawberry.field(description="Start date.")
    date_end: date | None = strawberry.field(
        default=None, description="End date (not before the start)."
    )
    status: ContractStatus = strawberry.field(
        default=ContractStatus.ACTIVE, description="Status (default ACTIVE)."
    )
    private: bool = strawberry.field(
        default=False,
        description="Visible only to the company's manager and the users of the manager's company.",
    )
    contract_type_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its contract type."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; default: you."
    )
    sla_id: int | None = strawberry.field(default=None, description="SLA id.")
    group_id: int | None = strawberry.field(default=None, description="Group id.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None, description="Values of the contract type's custom fields."
    )
    related_contract_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Related contracts (ones you can see)."
    )
    related_invoice_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Related invoices (ones you can see)."
    )


@strawberry.input(description="Changes to a contract; omitted fields stay as they are.")
class ContractUpdateInput:
    id: strawberry.ID = strawberry.field(description="The contract.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Move it to another company you can edit."
    )
    reference: str | None = strawberry.field(default=strawberry.UNSET, description="Reference.")
    number: str | None = strawberry.field(
        default=strawberry.UNSET, description="Contract number; null clears it."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    date_begin: date | None = strawberry.field(default=strawberry.UNSET, description="Start date.")
    date_end: date | None = strawberry.field(
        default=strawberry.UNSET, description="End date; null clears it."
    )
    status: ContractStatus | None = strawberry.field(
        default=strawberry.UNSET, description="Status."
    )
    private: bool | None = strawberry.field(default=strawberry.UNSET, description="Private flag.")
    contract_type_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Contract type; changing it drops the old type's custom values.",
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Owner; null for none."
    )
    sla_id: int | None = strawberry.field(default=strawberry.UNSET, description="SLA id.")
    group_id: int | None = strawberry.field(default=strawberry.UNSET, description="Group id.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Custom field values to set (others stay)."
    )
    related_contract_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replace the related contracts with these (ones you can see).",
    )
    related_invoice_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replace the related invoices with these (ones you can see).",
    )


@strawberry.type(description="Result of a contract mutation.")
class ContractPayload:
    contract: Contract | None = strawberry.field(
        graphql_type=ContractObjectType | None, description="The contract."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A contract type.")
class ContractTypeInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="Changes to a contract type: only the fields given change.")
class ContractTypeUpdateInput:
    id: strawberry.ID = strawberry.field(description="The contract type.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name (unique).")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What it is for."
    )


@strawberry.type(description="Result of a contract type mutation.")
class ContractTypePayload:
    contract_type: ContractType | None = strawberry.field(
        graphql_type=ContractKindType | None, description="The contract type."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="Result of contractGenerateInvoice.")
class ContractGenerateInvoicePayload:
    invoice: Annotated[InvoiceType, strawberry.lazy("crm_graphql.schema.invoices")] | None = (
        strawberry.field(description="The new invoice, linked to the contract.")
    )
    contract: Contract | None = strawberry.field(
        graphql_type=ContractObjectType | None, description="The contract."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
