"""Types, filters, inputs and payloads of the invoices domain (SPEC §6)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from tortoise.expressions import Q, Subquery

from crm_graphql.context import Info
from crm_graphql.dataloaders.invoices import LINK_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.models.users import User
from crm_graphql.permissions.contracts import contract_ids_seen_by
from crm_graphql.permissions.invoices import (
    can_delete_invoice,
    can_edit_invoice,
    can_lock_invoice,
    can_unlock_invoice,
)
from crm_graphql.schema.common import (
    COMPANY_TYPE,
    USER_TYPE,
    BooleanFilter,
    CompanyRefFilter,
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
from crm_graphql.schema.companies import REF_SPEC, USER_REF_SPEC, MoneyFilter
from crm_graphql.schema.files import files_connection
from crm_graphql.services.invoicing import Totals, compute_totals
from crm_graphql.services.listing import (
    FilterSpec,
    Relation,
    ViewerCondition,
    _scalar_q,
    encode_cursor,
)
from crm_graphql.services.orm import lookup_q
from crm_graphql.values import cents_to_decimal

if TYPE_CHECKING:
    from crm_graphql.schema.contracts import ContractType
    from crm_graphql.schema.files import FileType


@strawberry.enum(name="InvoiceKind", description="Who issued the invoice.")
class InvoiceKindEnum(Enum):
    SUBMITTED = strawberry.enum_value("SUBMITTED", description="Issued by us to a customer.")
    RECEIVED = strawberry.enum_value("RECEIVED", description="Received from a supplier.")


@strawberry.enum(name="InvoiceStatus", description="Where the invoice stands.")
class InvoiceStatusEnum(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Not paid yet.")
    PAID = strawberry.enum_value("PAID", description="Paid (see the payment date).")
    CANCELED = strawberry.enum_value("CANCELED", description="Canceled; counts in no billing.")


@strawberry.enum(name="InvoicePdfStatus", description="Where an invoice's PDF stands.")
class InvoicePdfStatusEnum(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Being rendered after a save (or waiting for a retry)."
    )
    READY = strawberry.enum_value("READY", description="Rendered: the invoice's `pdf`.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Could not be rendered after the retries (see `pdfError`)."
    )


@strawberry.type(name="InvoiceLine", description="One concept line of an invoice.")
class InvoiceLineType:
    @strawberry.field(description="What is charged.")
    def concept(self, root: strawberry.Parent[InvoiceLine]) -> str:
        return root.concept

    @strawberry.field(description="Amount, in the invoice's currency (2 decimals).")
    def amount(self, root: strawberry.Parent[InvoiceLine]) -> Decimal:
        return cents_to_decimal(root.amount_cents)


@strawberry.type(name="InvoiceTax", description="A tax applied to an invoice.")
class InvoiceTaxType:
    @strawberry.field(description="Tax name (e.g. VAT).")
    def name(self, root: strawberry.Parent[InvoiceTax]) -> str:
        return root.name

    @strawberry.field(description="Percentage (0 to 100).")
    def percent(self, root: strawberry.Parent[InvoiceTax]) -> Decimal:
        return Decimal(root.percent).normalize() + Decimal(0)


@strawberry.type(description="One tax's amount on an invoice.")
class InvoiceTaxAmount:
    name: str = strawberry.field(description="Tax name.")
    percent: Decimal = strawberry.field(description="Percentage.")
    amount: Decimal = strawberry.field(description="Subtotal x percentage, rounded to cents.")


@strawberry.type(description="What you may do with an invoice.")
class InvoiceViewerCan:
    edit: bool = strawberry.field(description="Change it (invoiceUpdate, invoiceSetStatus).")
    lock: bool = strawberry.field(description="Lock it.")
    unlock: bool = strawberry.field(description="Unlock it (IM).")
    delete: bool = strawberry.field(description="Delete it (IM, and only when unlocked).")


FirstArg = Annotated[
    int | None,
    strawberry.argument(description="How many, per parent (default 10, at most 50)."),
]


def _limit(info: Info, first: int | None) -> int:
    limits = info.context.settings.limits
    return nested_page_size(first, limits.nested_page_size_default, limits.nested_page_size_max)


async def _totals(root: Invoice, info: Info) -> Totals:
    loaders = info.context.loaders.invoices
    lines = await loaders.lines.load(root.id)
    taxes = await loaders.taxes.load(root.id)
    return compute_totals(
        [cents_to_decimal(line.amount_cents) for line in lines],
        Decimal(root.discount_percent),
        [(t.name, Decimal(t.percent)) for t in taxes],
        Decimal(root.retention_percent),
    )


@strawberry.type(name="Invoice", description="An invoice we issued or received (SPEC §6).")
class InvoiceType:
    id: strawberry.ID = strawberry.field(description="Invoice id.")
    bill_id: str = strawberry.field(description="Bill ID (unique): our number or the supplier's.")
    reference: str = strawberry.field(description="Reference, e.g. a purchase order.")
    issued_on: date = strawberry.field(description="Creation (issue) date.")
    expires_on: date | None = strawberry.field(description="Expiration (payment due) date.")
    paid_on: date | None = strawberry.field(description="Effective payment date.")
    language: str = strawberry.field(
        description="Language it is printed in: de, en, es, fr, it or pt."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    discount_concept: str = strawberry.field(description="Why the discount is given.")
    retention_concept: str = strawberry.field(description="Why the retention is applied.")
    description: str = strawberry.field(description="Description (printed on the invoice).")
    internal_note: str = strawberry.field(description="Internal note (never printed).")
    locked: bool = strawberry.field(description="Locked: only its locker or IM may change it.")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(description="Submitted (by us) or received (from a supplier).")
    def kind(self, root: strawberry.Parent[Invoice]) -> InvoiceKindEnum:
        return InvoiceKindEnum(getattr(root.kind, "value", root.kind))

    @strawberry.field(description="Pending, paid or canceled.")
    def status(self, root: strawberry.Parent[Invoice]) -> InvoiceStatusEnum:
        return InvoiceStatusEnum(getattr(root.status, "value", root.status))

    @strawberry.field(
        description="Its PDF (Submitted invoices; null for Received): PENDING while it is "
        "rendered after a save, READY, or FAILED after the retries (see `pdfError`)."
    )
    def pdf_status(self, root: strawberry.Parent[Invoice]) -> InvoicePdfStatusEnum | None:
        value = getattr(root, "pdf_status", None)
        return None if value is None else InvoicePdfStatusEnum(getattr(value, "value", value))

    @strawberry.field(
        description="Why the last PDF render failed (null when it did not); retried "
        "automatically while `pdfStatus` is PENDING."
    )
    def pdf_error(self, root: strawberry.Parent[Invoice]) -> str | None:
        return getattr(root, "pdf_error", "") or None

    @strawberry.field(description="Discount before taxes, percentage of the base.")
    def discount_percent(self, root: strawberry.Parent[Invoice]) -> Decimal:
        return Decimal(root.discount_percent).normalize() + Decimal(0)

    @strawberry.field(description="Retention, percentage of the subtotal (subtracted).")
    def retention_percent(self, root: strawberry.Parent[Invoice]) -> Decimal:
        return Decimal(root.retention_percent).normalize() + Decimal(0)

    @strawberry.field(
        description="The company invoiced (or invoicing us).", graphql_type=COMPANY_TYPE | None
    )
    async def company(self, root: strawberry.Parent[Invoice], info: Info) -> Company | None:
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(
        description="Who locked it (null when unlocked).", graphql_type=USER_TYPE | None
    )
    async def locked_by(self, root: strawberry.Parent[Invoice], info: Info) -> User | None:
        if root.locked_by_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.locked_by_id)

    @strawberry.field(description="Concept lines, in order.")
    async def lines(self, root: strawberry.Parent[Invoice], info: Info) -> list[InvoiceLineType]:
        return await info.context.loaders.invoices.lines.load(root.id)

    @strawberry.field(description="Taxes, in order.")
    async def taxes(self, root: strawberry.Parent[Invoice], info: Info) -> list[InvoiceTaxType]:
        return await info.context.loaders.invoices.taxes.load(root.id)

    @strawberry.field(description="Tax base: the sum of the lines.")
    def base(self, root: strawberry.Parent[Invoice]) -> Decimal:
        return cents_to_decimal(root.base_cents)

    @strawberry.field(description="Discount: base x discount percentage.")
    async def discount(self, root: strawberry.Parent[Invoice], info: Info) -> Decimal:
        return (await _totals(root, info)).discount

    @strawberry.field(description="Subtotal: base minus discount.")
    async def subtotal(self, root: strawberry.Parent[Invoice], info: Info) -> Decimal:
        return (await _totals(root, info)).subtotal

    @strawberry.field(description="Each tax's amount on the subtotal.")
    async def tax_amounts(
        self, root: strawberry.Parent[Invoice], info: Info
    ) -> list[InvoiceTaxAmount]:
        return [
            InvoiceTaxAmount(
                name=t.name, percent=t.percent.normalize() + Decimal(0), amount=t.amount
            )
            for t in (await _totals(root, info)).taxes
        ]

    @strawberry.field(description="Sum of the tax amounts.")
    async def tax_total(self, root: strawberry.Parent[Invoice], info: Info) -> Decimal:
        return (await _totals(root, info)).tax_total

    @strawberry.field(description="Retention: subtotal x retention percentage.")
    async def retention(self, root: strawberry.Parent[Invoice], info: Info) -> Decimal:
        return (await _totals(root, info)).retention

    @strawberry.field(description="Total: subtotal + taxes - retention.")
    def total(self, root: strawberry.Parent[Invoice]) -> Decimal:
        return cents_to_decimal(root.total_cents)

    @strawberry.field(description="Files attached to the invoice, newest first.")
    async def files(
        self, root: strawberry.Parent[Invoice], info: Info, first: FirstArg = None
    ) -> Connection[Annotated[FileType, strawberry.lazy("crm_graphql.schema.files")]]:
        return await files_connection(info, FileOwner.INVOICE, root.id, first)

    @strawberry.field(description="What you may do with this invoice.")
    def viewer_can(self, root: strawberry.Parent[Invoice], info: Info) -> InvoiceViewerCan:
        viewer = info.context.viewer
        if viewer is None:
            return InvoiceViewerCan(edit=False, lock=False, unlock=False, delete=False)
        return InvoiceViewerCan(
            edit=can_edit_invoice(viewer, root),
            lock=can_lock_invoice(viewer, root),
            unlock=can_unlock_invoice(viewer, root),
            delete=can_delete_invoice(viewer, root),
        )

    @strawberry.field(
        description="Related contracts you can see, by contract id.",
        graphql_type=Connection[
            Annotated["ContractType", strawberry.lazy("crm_graphql.schema.contracts")]
        ],
    )
    async def related_contracts(
        self, root: strawberry.Parent[Invoice], info: Info, first: FirstArg = None
    ) -> Connection[Contract]:
        loaders = info.context.loaders.invoices
        size = _limit(info, first)
        links = await loaders.contract_links.load((root.id, size))
        contracts = await asyncio.gather(
            *(loaders.contract.load(link.contract_id) for link in links[:size])
        )
        edges = [
            Edge(cursor=encode_cursor(link, LINK_ORDER), node=contract)
            for link, contract in zip(links[:size], contracts[:size], strict=True)
            if contract is not None
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(links) > size,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _count=lambda: loaders.contract_link_count.load(root.id),
        )


# ------------------------------------------------------------------ filters


@strawberry.input(description="Conditions on a date; all given conditions must hold.")
class DateFilter:
    eq: date | None = strawberry.field(default=strawberry.UNSET, description="On this day.")
    lt: date | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: date | None = strawberry.field(default=strawberry.UNSET, description="On or before.")
    gt: date | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: date | None = strawberry.field(default=strawberry.UNSET, description="On or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no date. False: has one."
    )


@strawberry.input(description="Conditions on the invoice kind.")
class InvoiceKindFilter:
    eq: InvoiceKindEnum | None = strawberry.field(default=strawberry.UNSET, description="Is.")
    in_: list[InvoiceKindEnum] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Is one of."
    )


@strawberry.input(description="Conditions on the invoice status.")
class InvoiceStatusFilter:
    eq: InvoiceStatusEnum | None = strawberry.field(default=strawberry.UNSET, description="Is.")
    neq: InvoiceStatusEnum | None = strawberry.field(
        default=strawberry.UNSET, description="Is not."
    )
    in_: list[InvoiceStatusEnum] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Is one of."
    )


@strawberry.input(description="Conditions on invoices; all given conditions must hold.")
class InvoiceFilter:
    search: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text in the bill ID, the company name or the description (ignoring case).",
    )
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Invoice id.")
    bill_id: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Bill ID."
    )
    reference: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Reference."
    )
    kind: InvoiceKindFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Submitted or received."
    )
    status: InvoiceStatusFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Status."
    )
    issued_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Creation date range."
    )
    expires_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Expiration date range."
    )
    paid_on: DateFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Payment date range."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Time of its last change."
    )
    currency: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Currency code."
    )
    locked: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Locked or not."
    )
    total: MoneyFilter | None = strawberry.field(
        default=strawberry.UNSET, description='Total (e.g. {gte: "100", lte: "5000"}).'
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company (id, name)."
    )
    company_role: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company's role (id, name)."
    )
    company_manager: UserRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company's manager."
    )
    contract_number: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Number of a related contract."
    )
    and_: list[InvoiceFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[InvoiceFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one holds."
    )
    not_: InvoiceFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


def invoice_search_q(text: str, prefix: str = "") -> Q:
    text = text.strip()
    if not text:
        return Q()
    return (
        Q(**{f"{prefix}bill_id__icontains": text})
        | Q(**{f"{prefix}company__name__icontains": text})
        | Q(**{f"{prefix}description__icontains": text})
    )


def contract_number_q(value: Any, prefix: str, viewer: Any) -> Q:
    """Invoices related to a contract of that number which the viewer may see (a
    private or hidden contract never matches)."""
    links = ContractInvoice.filter(_scalar_q("contract__number", value))
    visible = contract_ids_seen_by(viewer)
    if visible is not None:
        links = links.filter(contract_id__in=visible)
    return lookup_q({f"{prefix}id__in": Subquery(links.values("invoice_id"))})


INVOICE_FILTER_SPEC: FilterSpec = {
    "search": invoice_search_q,
    "id": "id",
    "bill_id": "bill_id",
    "reference": "reference",
    "kind": "kind",
    "status": "status",
    "issued_on": "issued_on",
    "expires_on": "expires_on",
    "paid_on": "paid_on",
    "updated_at": "updated_at",
    "currency": "currency",
    "locked": "locked",
    "total": "total_cents",
    "company": Relation("company", REF_SPEC),
    "company_role": Relation("company__role", REF_SPEC),
    "company_manager": Relation("company__manager", USER_REF_SPEC),
    "contract_number": ViewerCondition(contract_number_q),
}


@strawberry.enum(description="Columns invoices can be sorted by.")
class InvoiceOrderField(Enum):
    ISSUED_ON = strawberry.enum_value("issued_on", description="Creation date.")
    BILL_ID = strawberry.enum_value("bill_id", description="Bill ID (as text).")
    TOTAL = strawberry.enum_value("total_cents", description="Total.")
    CREATED_AT = strawberry.enum_value("created_at", description="When it was recorded.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="Time of its last change.")
    ID = strawberry.enum_value("id", description="Id.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class InvoiceOrder:
    field: InvoiceOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


# ------------------------------------------------------------------ inputs and payloads


@strawberry.input(description="A concept line.")
class InvoiceLineInput:
    concept: str = strawberry.field(description="What is charged.")
    amount: str = strawberry.field(
        description='Amount as decimal text, non-negative, at most 2 decimals (e.g. "2400.00").'
    )


@strawberry.input(description="A tax.")
class InvoiceTaxInput:
    name: str = strawberry.field(description="Tax name (e.g. VAT).")
    percent: str = strawberry.field(description='Percentage 0 to 100 as decimal text (e.g. "21").')


@strawberry.input(
    description="A new invoice. Submitted invoices get the next bill ID of CRM setup's "
    "pattern when automatic numbering is on and no bill ID is given, and are locked by you."
)
class InvoiceCreateInput:
    company_id: strawberry.ID = strawberry.field(description="The company (one you can see).")
    kind: InvoiceKindEnum = strawberry.field(
        default=InvoiceKindEnum.SUBMITTED, description="Submitted (default) or received."
    )
    bill_id: str | None = strawberry.field(
        default=None,
        description="Bill ID: required for received invoices (the supplier's) and when "
        "automatic numbering is off; otherwise a manual (unique) exception.",
    )
    reference: str = strawberry.field(default="", description="Reference (purchase order...).")
    status: InvoiceStatusEnum = strawberry.field(
        default=InvoiceStatusEnum.PENDING, description="Status."
    )
    issued_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Creation date (default today)."
    )
    expires_on: date | None = strawberry.field(
        default=None, description="Expiration date (not before the creation date)."
    )
    paid_on: date | None = strawberry.field(
        default=None, description="Payment date (default today when created PAID)."
    )
    language: str = strawberry.field(
        default="en", description="Print language: de, en, es, fr, it or pt (others refused)."
    )
    currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 4217 code (default: CRM setup's)."
    )
    lines: list[InvoiceLineInput] = strawberry.field(description="Concept lines (at least one).")
    taxes: list[InvoiceTaxInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Taxes (default: CRM setup's tax)."
    )
    discount_concept: str = strawberry.field(default="", description="Discount concept.")
    discount_percent: str = strawberry.field(
        default="0", description="Discount before taxes, percentage 0 to 100."
    )
    retention_concept: str = strawberry.field(default="", description="Retention concept.")
    retention_percent: str = strawberry.field(
        default="0", description="Retention, percentage 0 to 100."
    )
    description: str = strawberry.field(default="", description="Description (printed).")
    internal_note: str = strawberry.field(default="", description="Internal note (not printed).")
    related_contract_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Related contracts (ones you can see)."
    )
    create_reminder: bool = strawberry.field(
        default=False, description="Also create a calendar reminder for the payment due date."
    )


@strawberry.input(description="Changes to an invoice; omitted fields stay as they are.")
class InvoiceUpdateInput:
    id: strawberry.ID = strawberry.field(description="The invoice.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The company."
    )
    bill_id: str | None = strawberry.field(default=strawberry.UNSET, description="Bill ID.")
    reference: str | None = strawberry.field(default=strawberry.UNSET, description="Reference.")
    status: InvoiceStatusEnum | None = strawberry.field(
        default=strawberry.UNSET, description="Status."
    )
    issued_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Creation date."
    )
    expires_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Expiration date; null for none."
    )
    paid_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Payment date; null for none."
    )
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description="Print language: de, en, es, fr, it or pt."
    )
    currency: str | None = strawberry.field(default=strawberry.UNSET, description="Currency.")
    lines: list[InvoiceLineInput] | None = strawberry.field(
        default=strawberry.UNSET, description="All the lines (replace the current ones)."
    )
    taxes: list[InvoiceTaxInput] | None = strawberry.field(
        default=strawberry.UNSET, description="All the taxes (replace the current ones)."
    )
    discount_concept: str | None = strawberry.field(
        default=strawberry.UNSET, description="Discount concept."
    )
    discount_percent: str | None = strawberry.field(
        default=strawberry.UNSET, description="Discount percentage."
    )
    retention_concept: str | None = strawberry.field(
        default=strawberry.UNSET, description="Retention concept."
    )
    retention_percent: str | None = strawberry.field(
        default=strawberry.UNSET, description="Retention percentage."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    internal_note: str | None = strawberry.field(
        default=strawberry.UNSET, description="Internal note."
    )
    related_contract_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The related contracts you can see (links to others are kept).",
    )


@strawberry.type(description="Result of an invoice mutation.")
class InvoicePayload:
    invoice: Invoice | None = strawberry.field(
        graphql_type=InvoiceType | None, description="The invoice."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")

    @strawberry.field(
        description="True when this change regenerated the invoice's PDF and the previous "
        "PDF was replaced by the new one (Submitted invoices only)."
    )
    def pdf_replaced(self) -> bool:
        return bool(getattr(self.invoice, "pdf_replaced", False))


@strawberry.type(description="Sums of the filtered invoices in one currency.")
class InvoiceCurrencyTotals:
    currency: str = strawberry.field(description="ISO 4217 code.")
    count: int = strawberry.field(description="Number of invoices.")
    base: Decimal = strawberry.field(description="Sum of the bases.")
    total: Decimal = strawberry.field(description="Sum of the totals.")
