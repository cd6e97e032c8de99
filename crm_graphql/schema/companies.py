"""Types, filters, inputs and payloads of the companies domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from tortoise.expressions import Q

from crm_graphql.context import Info
from crm_graphql.dataloaders.companies import ACTIVITY_ORDER, CHILD_ORDER, CONTACT_ORDER
from crm_graphql.dataloaders.contracts import CONTRACT_ORDER
from crm_graphql.dataloaders.invoices import INVOICE_ORDER
from crm_graphql.ids import id_number
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import (
    can_delete_company,
    can_edit_company,
    can_manage_company,
    company_ids_seen_by,
)
from crm_graphql.permissions.invoices import invoice_sums_field
from crm_graphql.schema.common import (
    USER_TYPE,
    CompanyRefFilter,
    Connection,
    DateTimeFilter,
    IDFilter,
    SortDirection,
    StringFilter,
    UserError,
    UserRefFilter,
    nested_connection,
)
from crm_graphql.schema.customfields import (
    CustomFieldFilter,
    CustomFieldValueInput,
    CustomFieldValueType,
    custom_fields_q,
    value_list,
)
from crm_graphql.schema.events import ChangeType, HistoryFirst, history_connection
from crm_graphql.schema.files import files_connection
from crm_graphql.services.billing import BILLING_KEY, billing_q
from crm_graphql.services.listing import FilterSpec, ListError, Relation, SortKey
from crm_graphql.services.orm import lookup_q
from crm_graphql.values import cents_to_decimal, decimal_to_cents

# The root list's order when none is asked for (the id breaks ties).
COMPANY_DEFAULT_ORDER = [SortKey("name"), SortKey("id")]

if TYPE_CHECKING:
    from crm_graphql.schema.activities import ActivityType
    from crm_graphql.schema.contacts import ContactType
    from crm_graphql.schema.contracts import ContractObjectType
    from crm_graphql.schema.files import FileType
    from crm_graphql.schema.invoices import InvoiceType
    from crm_graphql.schema.leads import CurrencyAmount


@strawberry.type(description="What the viewer may do with an object.")
class ViewerCan:
    edit: bool = strawberry.field(description="Change it.")
    manage: bool = strawberry.field(
        description="Manage it beyond editing (colleagues' data, files, activities)."
    )
    delete: bool = strawberry.field(description="Delete it (other conditions may still refuse).")


@strawberry.type(name="CompanyRole", description="A kind of company: customer, supplier...")
class CompanyRoleType:
    id: strawberry.ID = strawberry.field(description="Role id.")
    name: str = strawberry.field(description="Role name (unique).")
    description: str = strawberry.field(description="What the role means.")


FirstArg = Annotated[
    int | None,
    strawberry.argument(description="How many, per parent (default 10, at most 50)."),
]


@strawberry.type(name="Company", description="A company: ours, a customer, a supplier...")
class CompanyType:
    id: strawberry.ID = strawberry.field(description="Company id.")
    name: str = strawberry.field(description="Name (unique).")
    address: str = strawberry.field(description="Postal address.")
    fiscal_id: str | None = strawberry.field(description="Fiscal id (unique when set).")
    country: str = strawberry.field(description="Country.")
    website: str = strawberry.field(description="Website.")
    comments: str = strawberry.field(description="Free comments.")
    last_update: datetime = strawberry.field(description="Last change of the company.")
    payment_conditions: int = strawberry.field(description="Payment term in days.")
    office_phone: str = strawberry.field(description="Office phone.")
    general_email: str = strawberry.field(description="General e-mail address.")
    created_at: datetime = strawberry.field(description="Creation time.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")
    last_activity_at: datetime | None = strawberry.field(
        name="lastActivity", description="Date of the latest activity on it or its contacts."
    )

    @strawberry.field(
        description="Who changed what and when, newest first: its events of the change "
        "feed (`changes`)."
    )
    async def history(
        self, root: strawberry.Parent[Company], info: Info, first: HistoryFirst = None
    ) -> Connection[ChangeType]:
        return await history_connection(info, EventObjectType.COMPANY, root.id, first)

    @strawberry.field(
        description="What it has been invoiced: the sum of the bases of its non-canceled "
        "Submitted invoices, one amount per currency, by currency code (amounts in "
        "different currencies are never added; none: nothing invoiced). Needs IR: without "
        "it, null with a "
        "FORBIDDEN error.",
        extensions=invoice_sums_field(),
    )
    async def billing(
        self, root: strawberry.Parent[Company], info: Info
    ) -> list[Annotated[CurrencyAmount, strawberry.lazy("crm_graphql.schema.leads")]] | None:
        return await company_billing(info, root)

    @strawberry.field(description="Number of its contracts you can see (any status).")
    async def contract_count(self, root: strawberry.Parent[Company], info: Info) -> int:
        return await info.context.loaders.contracts.count_by_company.load(root.id)

    @strawberry.field(description="Its contracts you can see (any status), newest start first.")
    async def contracts(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[ContractObjectType, strawberry.lazy("crm_graphql.schema.contracts")]]:
        loaders = info.context.loaders.contracts
        return await nested_connection(
            info, loaders.by_company, loaders.count_by_company, root.id, first, CONTRACT_ORDER
        )

    @strawberry.field(description="Number of open leads it manages that you can see.")
    async def open_lead_count(self, root: strawberry.Parent[Company], info: Info) -> int:
        rows = await info.context.loaders.leads.open_by_company.load(root.id)
        return sum(count for _, count, _ in rows)

    @strawberry.field(
        description="Estimated sales of the open leads it manages that you can see, one "
        "amount per currency (amounts in different currencies are never added)."
    )
    async def open_lead_estimated_sales(
        self, root: strawberry.Parent[Company], info: Info
    ) -> list[Annotated[CurrencyAmount, strawberry.lazy("crm_graphql.schema.leads")]]:
        from crm_graphql.schema.leads import CurrencyAmount

        rows = await info.context.loaders.leads.open_by_company.load(root.id)
        return [
            CurrencyAmount(currency=currency, amount=cents_to_decimal(cents))
            for currency, _, cents in rows
        ]

    @strawberry.field(description="Its role.", graphql_type=CompanyRoleType | None)
    async def role(self, root: strawberry.Parent[Company], info: Info) -> CompanyRole | None:
        if root.role_id is None:
            return None
        return await info.context.loaders.companies.role.load(root.role_id)

    @strawberry.field(
        description="The parent company; null when it has none or you cannot see it.",
        graphql_type="CompanyType | None",
    )
    async def parent(self, root: strawberry.Parent[Company], info: Info) -> Company | None:
        if root.parent_id is None:
            return None
        return await info.context.loaders.companies.company.load(root.parent_id)

    @strawberry.field(
        description="The manager (owner) of the company.", graphql_type=USER_TYPE | None
    )
    async def manager(self, root: strawberry.Parent[Company], info: Info) -> User | None:
        if root.manager_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.manager_id)

    @strawberry.field(description="Child companies you can see, by name.")
    async def children(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[CompanyType]:
        loaders = info.context.loaders.companies
        return await nested_connection(
            info, loaders.children, loaders.child_count, root.id, first, CHILD_ORDER
        )

    @strawberry.field(description="Its contacts, by name.")
    async def contacts(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[ContactType, strawberry.lazy("crm_graphql.schema.contacts")]]:
        loaders = info.context.loaders.companies
        return await nested_connection(
            info, loaders.contacts, loaders.contact_count, root.id, first, CONTACT_ORDER
        )

    @strawberry.field(description="Activities on the company and its contacts, newest first.")
    async def activities(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[ActivityType, strawberry.lazy("crm_graphql.schema.activities")]]:
        loaders = info.context.loaders.companies
        return await nested_connection(
            info,
            loaders.company_activities,
            loaders.company_activity_count,
            root.id,
            first,
            ACTIVITY_ORDER,
        )

    @strawberry.field(description="Its invoices you can see (IR), newest creation date first.")
    async def invoices(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[InvoiceType, strawberry.lazy("crm_graphql.schema.invoices")]]:
        loaders = info.context.loaders.invoices
        return await nested_connection(
            info,
            loaders.company_invoices,
            loaders.company_invoice_count,
            root.id,
            first,
            INVOICE_ORDER,
        )

    @strawberry.field(description="Files attached to the company, newest first.")
    async def files(
        self, root: strawberry.Parent[Company], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[FileType, strawberry.lazy("crm_graphql.schema.files")]]:
        return await files_connection(info, FileOwner.COMPANY, root.id, first)

    @strawberry.field(
        description="Every company custom field with this company's value, grouped by "
        'section order ("Without section" for fields without one).'
    )
    async def custom_fields(
        self, root: strawberry.Parent[Company], info: Info
    ) -> list[CustomFieldValueType]:
        loaders = info.context.loaders.companies
        definitions = await loaders.definitions(CustomFieldEntity.COMPANY)
        values = await loaders.company_values.load(root.id)
        return value_list(definitions, values, await loaders.section_names())

    @strawberry.field(description="What you may do with this company.")
    def viewer_can(self, root: strawberry.Parent[Company], info: Info) -> ViewerCan:
        viewer = info.context.viewer
        if viewer is None:
            return ViewerCan(edit=False, manage=False, delete=False)
        return ViewerCan(
            edit=can_edit_company(viewer, root),
            manage=can_manage_company(viewer, root),
            delete=can_delete_company(viewer, root),
        )


async def company_billing(info: Info, company: Company) -> list[CurrencyAmount]:
    """A company's billing per currency: the one place the API reads it (an access
    rule on billing belongs here)."""
    from crm_graphql.schema.leads import CurrencyAmount

    rows = await info.context.loaders.companies.billing.load(company.id)
    return [CurrencyAmount(currency=c, amount=cents_to_decimal(cents)) for c, cents in rows]


@strawberry.input(description='Conditions on a money amount (decimal text, e.g. "1500.00").')
class MoneyFilter:
    eq: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    lt: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Less than.")
    lte: Decimal | None = strawberry.field(default=strawberry.UNSET, description="At most.")
    gt: Decimal | None = strawberry.field(default=strawberry.UNSET, description="More than.")
    gte: Decimal | None = strawberry.field(default=strawberry.UNSET, description="At least.")

    @staticmethod
    def coerce(value: object) -> object:
        try:
            return decimal_to_cents(Decimal(str(value)))
        except (ArithmeticError, ValueError):
            raise ListError(f"'{value}' is not an amount.") from None


@strawberry.input(
    description="Conditions on a company's billing in ONE currency (a company without "
    'invoices in it bills 0 there), e.g. {currency: "JPY", gte: "10000"}.'
)
class BillingFilter:
    currency: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="ISO 4217 code; default: CRM setup's default currency.",
    )
    eq: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    lt: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Less than.")
    lte: Decimal | None = strawberry.field(default=strawberry.UNSET, description="At most.")
    gt: Decimal | None = strawberry.field(default=strawberry.UNSET, description="More than.")
    gte: Decimal | None = strawberry.field(default=strawberry.UNSET, description="At least.")

    coerce = staticmethod(MoneyFilter.coerce)


@strawberry.input(description="Conditions on companies; all given conditions must hold.")
class CompanyFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text in the name, country, fiscal id, general e-mail, office phone or "
        "address (ignoring case), or the id when a number.",
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Company id.")
    name: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    fiscal_id: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Fiscal id."
    )
    country: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Country."
    )
    role: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its role (id, name)."
    )
    manager: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its manager."
    )
    parent: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Its parent company."
    )
    last_update: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Last change."
    )
    billing: BillingFilter | None = strawberry.field(
        default=strawberry.UNSET,
        description='Billing in one currency (e.g. {currency: "EUR", gte: "1000"}). Needs IR '
        "(otherwise FORBIDDEN).",
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=strawberry.UNSET, description="Conditions on custom field values."
    )
    and_: list[CompanyFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[CompanyFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: CompanyFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


# Columns the free-text search looks in (SPEC §3; issue 12): all with ILIKE, so the
# search scans the visible companies either way (bench/README "Company search").
SEARCH_COLUMNS = (
    "name",
    "country",
    "fiscal_id",
    "general_email",
    "office_phone",
    "address",
)


def search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    found = Q(
        *(Q(**{f"{prefix}{column}__icontains": text}) for column in SEARCH_COLUMNS),
        join_type=Q.OR,
    )
    number = id_number(text)
    if number is not None:
        found |= lookup_q({f"{prefix}id": number})
    return found


REF_SPEC: FilterSpec = {"id": "id", "name": "name"}
USER_REF_SPEC: FilterSpec = {"id": "id", "username": "username"}
COMPANY_FILTER_SPEC: FilterSpec = {
    "search": search_q,
    "id": "id",
    "name": "name",
    "fiscal_id": "fiscal_id",
    "country": "country",
    "role": Relation("role", REF_SPEC),
    "manager": Relation("manager", USER_REF_SPEC),
    "parent": Relation("parent", REF_SPEC, visible=company_ids_seen_by),
    "last_update": "last_update",
    "billing": billing_q,
    "custom_fields": lambda value, prefix: custom_fields_q(value, prefix),
}


@strawberry.enum(description="Columns companies can be sorted by.")
class CompanyOrderField(Enum):
    NAME = strawberry.enum_value("name", description="Name.")
    LAST_UPDATE = strawberry.enum_value("last_update", description="Last change.")
    BILLING = strawberry.enum_value(
        BILLING_KEY,
        description="Billing in the key's `currency` (default: CRM setup's). Needs IR "
        "(otherwise FORBIDDEN).",
    )
    LAST_ACTIVITY = strawberry.enum_value(
        "last_activity_key", description="Latest activity (companies without any first)."
    )
    COUNTRY = strawberry.enum_value("country", description="Country.")
    CREATED_AT = strawberry.enum_value("created_at", description="Creation time.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class CompanyOrder:
    field: CompanyOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")
    currency: str | None = strawberry.field(
        default=None,
        description="With BILLING: the currency to sort by (companies without invoices in "
        "it bill 0); default: CRM setup's default currency.",
    )


@strawberry.input(description="A new company. You become its manager unless you name one.")
class CompanyCreateInput:
    name: str = strawberry.field(description="Name (unique).")
    address: str = strawberry.field(default="", description="Postal address.")
    fiscal_id: str | None = strawberry.field(default=None, description="Fiscal id.")
    country: str = strawberry.field(default="", description="Country.")
    website: str = strawberry.field(default="", description="Website.")
    comments: str = strawberry.field(default="", description="Comments.")
    role_id: strawberry.ID | None = strawberry.field(default=None, description="Role.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Parent company (one you can see)."
    )
    manager_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Manager; default: you."
    )
    payment_conditions: int = strawberry.field(default=30, description="Payment term, days.")
    office_phone: str = strawberry.field(default="", description="Office phone.")
    general_email: str = strawberry.field(default="", description="General e-mail.")
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=None, description="Custom field values."
    )


@strawberry.input(description="Changes to a company; omitted fields stay as they are.")
class CompanyUpdateInput:
    id: strawberry.ID = strawberry.field(description="The company.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    address: str | None = strawberry.field(default=strawberry.UNSET, description="Address.")
    fiscal_id: str | None = strawberry.field(default=strawberry.UNSET, description="Fiscal id.")
    country: str | None = strawberry.field(default=strawberry.UNSET, description="Country.")
    website: str | None = strawberry.field(default=strawberry.UNSET, description="Website.")
    comments: str | None = strawberry.field(default=strawberry.UNSET, description="Comments.")
    role_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Role.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Parent company; null for none."
    )
    manager_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Manager (changing it needs CM)."
    )
    payment_conditions: int | None = strawberry.field(
        default=strawberry.UNSET, description="Payment term, days."
    )
    office_phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="Office phone."
    )
    general_email: str | None = strawberry.field(
        default=strawberry.UNSET, description="General e-mail."
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Custom field values to set (others stay)."
    )


@strawberry.type(description="Result of companyCreate or companyUpdate.")
class CompanyPayload:
    company: Company | None = strawberry.field(
        description="The company.", graphql_type=CompanyType | None
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A company role.")
class CompanyRoleInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it means.")


@strawberry.input(description="Changes to a company role: only the fields given change.")
class CompanyRoleUpdateInput:
    id: strawberry.ID = strawberry.field(description="The role.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name (unique).")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What it means."
    )


@strawberry.type(description="Result of a company role mutation.")
class CompanyRolePayload:
    role: CompanyRole | None = strawberry.field(
        description="The role.", graphql_type=CompanyRoleType | None
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
