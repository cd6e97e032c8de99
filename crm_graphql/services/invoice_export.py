"""Invoices as CSV rows for the export endpoint (SPEC §6 totals, computed as on the
invoice)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.expressions import Q

from crm_graphql.models.contracts import ContractInvoice
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.services.invoicing import compute_totals
from crm_graphql.values import cents_to_decimal

EXPORT_COLUMNS = (
    "id",
    "bill_id",
    "kind",
    "status",
    "company",
    "reference",
    "issued_on",
    "expires_on",
    "paid_on",
    "language",
    "currency",
    "lines",
    "taxes",
    "discount_concept",
    "discount_percent",
    "base",
    "discount",
    "subtotal",
    "tax_total",
    "retention_concept",
    "retention_percent",
    "retention",
    "total",
    "description",
    "internal_note",
    "locked",
    "locked_by",
    "related_contracts",
)


def _percent_text(value: Any) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text


class InvoiceExport:
    """Invoices as CSV rows: lines as `concept: amount | ...`, taxes as `name percent% |
    ...`, the totals computed as on the invoice. Four statements per page of rows."""

    @classmethod
    async def load(cls) -> InvoiceExport:
        return cls()

    def header(self) -> list[str]:
        return list(EXPORT_COLUMNS)

    async def pages(self, where: Q, page_size: int = 500) -> Any:
        last = 0
        while True:
            rows = (
                await Invoice.filter(where, id__gt=last)
                .order_by("id")
                .limit(page_size)
                .values(
                    "id",
                    "bill_id",
                    "kind",
                    "status",
                    "company__name",
                    "reference",
                    "issued_on",
                    "expires_on",
                    "paid_on",
                    "language",
                    "currency",
                    "discount_concept",
                    "discount_percent",
                    "retention_concept",
                    "retention_percent",
                    "description",
                    "internal_note",
                    "locked",
                    "locked_by__username",
                )
            )
            if not rows:
                return
            ids = [row["id"] for row in rows]
            lines: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
            for line in (
                await InvoiceLine.filter(invoice_id__in=ids)
                .order_by("invoice_id", "position", "id")
                .values("invoice_id", "concept", "amount_cents")
            ):
                lines[line["invoice_id"]].append((line["concept"], line["amount_cents"]))
            taxes: dict[int, list[tuple[str, Decimal]]] = {i: [] for i in ids}
            for tax in (
                await InvoiceTax.filter(invoice_id__in=ids)
                .order_by("invoice_id", "position", "id")
                .values("invoice_id", "name", "percent")
            ):
                taxes[tax["invoice_id"]].append((tax["name"], Decimal(tax["percent"])))
            contracts: dict[int, list[str]] = {i: [] for i in ids}
            for link in (
                await ContractInvoice.filter(invoice_id__in=ids)
                .order_by("invoice_id", "contract_id")
                .values("invoice_id", "contract__number", "contract__reference")
            ):
                contracts[link["invoice_id"]].append(
                    link["contract__number"] or link["contract__reference"]
                )
            yield [self._cells(r, lines[r["id"]], taxes[r["id"]], contracts[r["id"]]) for r in rows]
            if len(rows) < page_size:
                return
            last = ids[-1]

    @staticmethod
    def _cells(
        row: dict[str, Any],
        lines: list[tuple[str, int]],
        taxes: list[tuple[str, Decimal]],
        contracts: list[str],
    ) -> list[str]:
        totals = compute_totals(
            [cents_to_decimal(a) for _, a in lines],
            Decimal(row["discount_percent"]),
            taxes,
            Decimal(row["retention_percent"]),
        )

        def text(value: Any) -> str:
            if value is None:
                return ""
            if isinstance(value, bool):
                return "1" if value else "0"
            return str(getattr(value, "value", value))

        return [
            text(row["id"]),
            text(row["bill_id"]),
            text(row["kind"]),
            text(row["status"]),
            text(row["company__name"]),
            text(row["reference"]),
            text(row["issued_on"]),
            text(row["expires_on"]),
            text(row["paid_on"]),
            text(row["language"]),
            text(row["currency"]),
            " | ".join(f"{c}: {cents_to_decimal(a)}" for c, a in lines),
            " | ".join(f"{n} {_percent_text(p)}%" for n, p in taxes),
            text(row["discount_concept"]),
            _percent_text(row["discount_percent"]),
            str(totals.base),
            str(totals.discount),
            str(totals.subtotal),
            str(totals.tax_total),
            text(row["retention_concept"]),
            _percent_text(row["retention_percent"]),
            str(totals.retention),
            str(totals.total),
            text(row["description"]),
            text(row["internal_note"]),
            text(row["locked"]),
            text(row["locked_by__username"]),
            " | ".join(contracts),
        ]
