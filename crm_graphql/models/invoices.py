"""Invoices, their concept lines and taxes (SPEC §6). Amounts are integer cents in
the database; rates are exact decimals; totals are computed with Decimal and kept in
`base_cents`/`total_cents` so lists can sort, filter and sum them in SQL."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.users import User


class InvoiceKind(StrEnum):
    SUBMITTED = "SUBMITTED"
    RECEIVED = "RECEIVED"


class InvoiceStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    CANCELED = "CANCELED"


class InvoicePdfStatus(StrEnum):
    """Where a Submitted invoice's PDF is: rendered after the invoice commits."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class Invoice(Model):
    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="invoices", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(InvoiceKind, max_length=10)
    bill_id = fields.CharField(max_length=100, unique=True)
    reference = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(InvoiceStatus, max_length=10, default=InvoiceStatus.PENDING)
    issued_on = fields.DateField()
    expires_on = fields.DateField(null=True)
    paid_on = fields.DateField(null=True)
    language = fields.CharField(max_length=10, default="en")
    currency = fields.CharField(max_length=3, default="EUR")
    discount_concept = fields.CharField(max_length=200, default="")
    discount_percent = fields.DecimalField(max_digits=7, decimal_places=4, default=0)
    retention_concept = fields.CharField(max_length=200, default="")
    retention_percent = fields.DecimalField(max_digits=7, decimal_places=4, default=0)
    description = fields.TextField(default="")
    internal_note = fields.TextField(default="")
    locked = fields.BooleanField(default=False)
    locked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="locked_invoices", null=True, on_delete=fields.SET_NULL
    )
    base_cents = fields.BigIntField(default=0)
    total_cents = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)
    # The PDF, rendered after commit by services/pdf_queue.py (null: no PDF, Received).
    # CharEnumField is typed without null=True: the annotation says the column may be null.
    pdf_status: fields.Field[InvoicePdfStatus | None] = fields.CharEnumField(  # type: ignore[assignment]
        InvoicePdfStatus, max_length=10, null=True
    )
    pdf_error = fields.CharField(max_length=500, default="", db_default="")
    pdf_attempts = fields.IntField(default=0, db_default=0)
    # When the next render attempt is due (null: none due).
    pdf_due_at = fields.DatetimeField(null=True)
    # Bumped by every render request: a render stores its PDF only if it still matches.
    pdf_seq = fields.IntField(default=0, db_default=0)

    company_id: int
    locked_by_id: int | None

    class Meta:
        table = "invoices"
        ordering = ["id"]
        indexes = (
            ("company_id", "issued_on"),
            ("issued_on", "id"),
            ("kind", "status"),
            ("currency", "issued_on"),
            ("updated_at", "id"),
            ("pdf_status", "pdf_due_at"),
        )


class InvoiceLine(Model):
    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "crm.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    concept = fields.CharField(max_length=500)
    amount_cents = fields.BigIntField()

    invoice_id: int

    class Meta:
        table = "invoice_lines"
        ordering = ["position", "id"]
        indexes = (("invoice_id", "position"),)


class InvoiceTax(Model):
    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "crm.Invoice", related_name="taxes", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    name = fields.CharField(max_length=100)
    percent = fields.DecimalField(max_digits=7, decimal_places=4)

    invoice_id: int

    class Meta:
        table = "invoice_taxes"
        ordering = ["position", "id"]
        indexes = (("invoice_id", "position"),)
