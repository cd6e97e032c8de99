"""Inputs and payloads of the invoice mutations and the invoice totals (SPEC §6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from crm_graphql.models.invoices import Invoice
from crm_graphql.schema.common import UserError
from crm_graphql.schema.invoices import InvoiceKindEnum, InvoiceStatusEnum, InvoiceType


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
