"""The rows that go with an invoice (SPEC §6): its lines and taxes, its totals, its
links to contracts, the company's billing sums, its payment reminders and its audit
snapshot. Called by services/invoices.py inside the mutation's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import Q, Subquery

from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, InvoiceTax
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar
from crm_graphql.services.invoicing import compute_totals
from crm_graphql.values import cents_to_decimal, decimal_to_cents


async def set_contracts(invoice: Invoice, ids: list[int], contracts_visible: Q) -> None:
    """Make the invoice's visible related contracts exactly `ids`; links to contracts
    the viewer cannot see are kept as they are."""
    current = set(
        await ContractInvoice.filter(
            invoice_id=invoice.id,
            contract_id__in=Subquery(Contract.filter(contracts_visible).values("id")),
        ).values_list("contract_id", flat=True)
    )
    wanted = set(ids)
    if current - wanted:
        await ContractInvoice.filter(
            invoice_id=invoice.id, contract_id__in=list(current - wanted)
        ).delete()
    for cid in sorted(wanted - current):
        await ContractInvoice.create(invoice_id=invoice.id, contract_id=cid)


async def store_lines_and_taxes(
    invoice: Invoice,
    lines: list[tuple[str, int]] | None,
    taxes: list[tuple[str, Decimal]] | None,
) -> None:
    if lines is not None:
        await InvoiceLine.filter(invoice_id=invoice.id).delete()
        await InvoiceLine.bulk_create(
            [
                InvoiceLine(invoice_id=invoice.id, position=i, concept=c, amount_cents=a)
                for i, (c, a) in enumerate(lines)
            ]
        )
    if taxes is not None:
        await InvoiceTax.filter(invoice_id=invoice.id).delete()
        await InvoiceTax.bulk_create(
            [
                InvoiceTax(invoice_id=invoice.id, position=i, name=n, percent=p)
                for i, (n, p) in enumerate(taxes)
            ]
        )


def apply_totals(
    invoice: Invoice, lines: list[tuple[str, int]], taxes: list[tuple[str, Decimal]]
) -> None:
    totals = compute_totals(
        [cents_to_decimal(a) for _, a in lines],
        Decimal(invoice.discount_percent),
        taxes,
        Decimal(invoice.retention_percent),
    )
    invoice.base_cents = decimal_to_cents(totals.base)
    invoice.total_cents = decimal_to_cents(totals.total)


async def refresh_billing(company_ids: Sequence[int]) -> None:
    """company_billings = per company and currency, the sum of the bases of its
    non-canceled SUBMITTED invoices (no row when there are none): two statements, in
    the caller's transaction. An upsert, not delete-then-insert, so two transactions
    refreshing one company never collide on the (company, currency) key."""
    ids = sorted({int(i) for i in company_ids})
    if not ids:
        return
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    marks = [f"${n}" for n in range(1, len(ids) + 3)] if postgres else ["?"] * (len(ids) + 2)
    billed = f"i.kind = {marks[0]} AND i.status <> {marks[1]}"
    in_ids = ", ".join(marks[2:])
    params = [InvoiceKind.SUBMITTED.value, InvoiceStatus.CANCELED.value, *ids]
    await connection.execute_query(
        # SQLite's ? marks are positional: kind and status come first in the text too.
        "DELETE FROM company_billings WHERE NOT EXISTS (SELECT 1 FROM invoices i "  # noqa: S608
        f"WHERE {billed} AND i.company_id = company_billings.company_id "
        f"AND i.currency = company_billings.currency) AND company_id IN ({in_ids})",
        params,
    )
    await connection.execute_query(
        "INSERT INTO company_billings (company_id, currency, cents) "  # noqa: S608
        f"SELECT i.company_id, i.currency, SUM(i.base_cents) FROM invoices i "
        f"WHERE {billed} AND i.company_id IN ({in_ids}) GROUP BY i.company_id, i.currency "
        "ON CONFLICT (company_id, currency) DO UPDATE SET cents = excluded.cents",
        params,
    )


async def sync_reminders(invoice: Invoice, request_id: str) -> None:
    """Move and rename the invoice's payment reminders after its expiration date or
    bill ID changed; drop them when it no longer expires."""
    reminders = CalendarEvent.filter(
        object_type="Invoice", object_id=invoice.id, kind=CalendarEventKind.INVOICE_DUE
    )
    if invoice.expires_on is None:
        await reminders.delete()
        return
    owners = await reminders.values_list("owner_id", flat=True)
    for owner in await User.filter(id__in=list(owners)).order_by("id"):
        await calendar.create_payment_reminder(owner, invoice, request_id)


def invoice_snapshot(
    invoice: Invoice,
    lines: list[tuple[str, int]] | None = None,
    taxes: list[tuple[str, Decimal]] | None = None,
) -> dict[str, Any]:
    data = audit.snapshot(invoice)
    if lines is not None:
        data["lines"] = [[c, str(cents_to_decimal(a))] for c, a in lines]
    if taxes is not None:
        data["taxes"] = [[n, str(p)] for n, p in taxes]
    return data
