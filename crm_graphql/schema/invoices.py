"""Enums and object types of the invoices domain (SPEC §6); filters are in
schema/invoice_filters.py, inputs and payloads in schema/invoice_inputs.py."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.dataloaders.invoices import LINK_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from crm_graphql.models.events import EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.models.users import User
from crm_graphql.permissions.invoices import (
    can_delete_invoice,
    can_edit_invoice,
    can_lock_invoice,
    can_unlock_invoice,
)
from crm_graphql.schema.common import (
    COMPANY_TYPE,
    USER_TYPE,
    Connection,
    Edge,
    PageInfo,
    nested_page_size,
)
from crm_graphql.schema.events import ChangeType, HistoryFirst, history_connection
from crm_graphql.schema.files import files_connection
from crm_graphql.services.invoicing import Totals, compute_totals
from crm_graphql.services.listing import encode_cursor
from crm_graphql.values import cents_to_decimal

if TYPE_CHECKING:
    from crm_graphql.schema.contracts import ContractObjectType
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

    @strawberry.field(
        description="Who changed what and when, newest first: its events of the change "
        "feed (`changes`)."
    )
    async def history(
        self, root: strawberry.Parent[Invoice], info: Info, first: HistoryFirst = None
    ) -> Connection[ChangeType]:
        return await history_connection(info, EventObjectType.INVOICE, root.id, first)

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
            Annotated["ContractObjectType", strawberry.lazy("crm_graphql.schema.contracts")]
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
