"""Invoices (SPEC §6): validation, bill ID numbering, totals, locks, related contracts,
the company's billing, automatic activities and the audit log.

Callers run these inside one transaction (`services.mutations.atomic`) and have checked
the viewer's rights on the invoice (permissions/invoices.py); the rules about the values
and referenced objects are here. Every write keeps `company_billings` (one row per company
and currency) equal to the sums of the bases of the company's non-canceled SUBMITTED
invoices in each currency, in the same transaction.

After each create and edit, inside the transaction, the PDF is queued
(services/pdf_queue.py, rendered after commit); the payment reminder is the calendar
service's `create_payment_reminder(viewer, invoice)`, called when the client asks for one.
Deleting a company with invoices is refused by services/companies.py itself.

The input rules are in services/invoice_input.py, the rows written with an invoice
(lines, taxes, contract links, billing sums, reminders) in services/invoice_records.py,
the CSV export in services/invoice_export.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, InvoiceTax
from crm_graphql.services import audit, calendar, events, files
from crm_graphql.services.activities import add_change_activity, touch_last_update
from crm_graphql.services.auth import Viewer
from crm_graphql.services.invoice_input import (
    bill_id_clash,
    check_dates,
    clean_fields,
    clean_lines,
    clean_taxes,
    crm_setup,
    visible_contract_ids,
)
from crm_graphql.services.invoice_records import (
    apply_totals,
    invoice_snapshot,
    refresh_billing,
    set_contracts,
    store_lines_and_taxes,
    sync_reminders,
)
from crm_graphql.services.invoicing import allocate_bill_id, parse_pattern
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.services.pdf_queue import queue_invoice_pdf

# Audit action for a change the API refused (bad input, a locked invoice...).
REJECTED = "REJECTED"

# ------------------------------------------------------------------ writes


async def create_invoice(
    viewer: Viewer,
    data: dict[str, Any],
    companies_visible: Q,
    contracts_visible: Q,
    request_id: str = "",
) -> Invoice:
    """A new invoice. `data` holds model field names plus `company_id`, `lines`,
    `taxes`, `related_contract_ids` and `create_reminder`."""
    setup = await crm_setup()
    errors: list[FieldError] = []
    raw_lines = data.pop("lines", None) or []
    raw_taxes = data.pop("taxes", None)
    contract_ids_raw = data.pop("related_contract_ids", None) or []
    create_reminder = bool(data.pop("create_reminder", False))
    if raw_taxes is None:
        raw_taxes = [{"name": setup.tax_name, "percent": str(setup.default_tax_percent)}]
    data.setdefault("kind", InvoiceKind.SUBMITTED)
    data.setdefault("currency", setup.default_currency)
    data.setdefault("issued_on", date.today())
    clean_fields(data, errors)
    lines = clean_lines(raw_lines, errors)
    taxes = clean_taxes(raw_taxes, errors)
    check_dates(data, errors)
    company = None
    try:
        company_id = parse_id(data.pop("company_id", None), "companyId")
        company = await Company.filter(companies_visible, id=company_id).first()
        if company is None:
            raise FieldError("companyId", ErrorCode.NOT_FOUND, "No such company.")
    except FieldError as exc:
        errors.append(exc)
    try:
        contract_ids = await visible_contract_ids(contract_ids_raw, contracts_visible)
    except FieldError as exc:
        errors.append(exc)
        contract_ids = []
    kind = data["kind"]
    bill_id = data.get("bill_id") or ""
    if not bill_id:
        data.pop("bill_id", None)
        if kind == InvoiceKind.RECEIVED:
            errors.append(
                FieldError(
                    "billId", ErrorCode.REQUIRED, "A received invoice needs the supplier's bill ID."
                )
            )
        elif not setup.invoice_auto_number:
            errors.append(
                FieldError(
                    "billId", ErrorCode.REQUIRED, "Automatic numbering is off: give a bill ID."
                )
            )
    elif clash := await bill_id_clash(bill_id, None):
        errors.append(clash)
    if data.get("status") == InvoiceStatus.PAID and not data.get("paid_on"):
        data["paid_on"] = date.today()
    if create_reminder and not data.get("expires_on"):
        errors.append(
            FieldError(
                "expiresOn", ErrorCode.REQUIRED, "A payment reminder needs an expiration date."
            )
        )
    if errors:
        raise PayloadErrors(errors)
    assert company is not None
    if "bill_id" not in data:
        # Taken last, so the numbering lock (PostgreSQL) is held as briefly as possible.
        data["bill_id"] = await allocate_bill_id(parse_pattern(setup.invoice_pattern))
    invoice = Invoice(company_id=company.id, **data)
    if kind == InvoiceKind.SUBMITTED:
        invoice.locked, invoice.locked_by_id = True, viewer.user.id
    apply_totals(invoice, lines, taxes)
    try:
        await invoice.save()
    except IntegrityError:
        raise FieldError(
            "billId", ErrorCode.UNIQUE, f"Another invoice has the bill ID '{invoice.bill_id}'."
        ) from None
    await store_lines_and_taxes(invoice, lines, taxes)
    await set_contracts(invoice, contract_ids, contracts_visible)
    await refresh_billing([company.id])
    await audit.record(
        viewer.user,
        audit.CREATE,
        "Invoice",
        invoice.id,
        invoice_snapshot(invoice, lines, taxes) | {"related_contract_ids": contract_ids},
        request_id,
    )
    await events.record(
        None,
        EventObjectType.INVOICE,
        invoice.id,
        EventAction.CREATE,
        events.created(
            invoice_snapshot(invoice, lines, taxes) | {"related_contract_ids": contract_ids}
        ),
        viewer.user.id,
        invoice.company_id,
    )
    await add_change_activity(
        viewer, company.id, f"Invoice {invoice.bill_id} created.", request_id=request_id
    )
    if create_reminder:
        await calendar.create_payment_reminder(viewer, invoice, request_id)
    await queue_invoice_pdf(invoice)
    return invoice


async def update_invoice(
    viewer: Viewer,
    invoice: Invoice,
    data: dict[str, Any],
    companies_visible: Q,
    contracts_visible: Q,
    request_id: str = "",
) -> Invoice:
    """Change an invoice the viewer may edit (checked by the caller). A Submitted
    invoice is locked again, by the editor."""
    check_version(invoice, data, "invoice")
    errors: list[FieldError] = []
    raw_lines = data.pop("lines", None)
    raw_taxes = data.pop("taxes", None)
    contract_ids_raw = data.pop("related_contract_ids", None)
    clean_fields(data, errors)
    lines = clean_lines(raw_lines, errors) if raw_lines is not None else None
    taxes = clean_taxes(raw_taxes, errors) if raw_taxes is not None else None
    if "bill_id" in data:
        if not data["bill_id"]:
            errors.append(FieldError("billId", ErrorCode.REQUIRED, "An invoice needs a bill ID."))
        elif clash := await bill_id_clash(data["bill_id"], invoice.id):
            errors.append(clash)
    old_company_id = invoice.company_id
    if "company_id" in data:
        try:
            company_id = parse_id(data.pop("company_id"), "companyId")
            if not await Company.filter(companies_visible, id=company_id).exists():
                raise FieldError("companyId", ErrorCode.NOT_FOUND, "No such company.")
            data["company_id"] = company_id
        except FieldError as exc:
            errors.append(exc)
    contract_ids = None
    if contract_ids_raw is not None:
        try:
            contract_ids = await visible_contract_ids(contract_ids_raw, contracts_visible)
        except FieldError as exc:
            errors.append(exc)
    merged = {
        name: data.get(name, getattr(invoice, name))
        for name in ("issued_on", "expires_on", "paid_on")
    }
    paying = data.get("status") == InvoiceStatus.PAID and invoice.status != InvoiceStatus.PAID
    if paying and not merged["paid_on"]:
        merged["paid_on"] = data["paid_on"] = date.today()
    check_dates(merged, errors)
    if errors:
        raise PayloadErrors(errors)
    before = invoice_snapshot(invoice)
    for name, value in data.items():
        setattr(invoice, name, value)
    if lines is None or taxes is None:
        stored_lines = [
            (r["concept"], r["amount_cents"])
            for r in await InvoiceLine.filter(invoice_id=invoice.id)
            .order_by("position", "id")
            .values("concept", "amount_cents")
        ]
        stored_taxes = [
            (r["name"], Decimal(r["percent"]))
            for r in await InvoiceTax.filter(invoice_id=invoice.id)
            .order_by("position", "id")
            .values("name", "percent")
        ]
    apply_totals(
        invoice,
        lines if lines is not None else stored_lines,
        taxes if taxes is not None else stored_taxes,
    )
    if invoice.kind == InvoiceKind.SUBMITTED:
        invoice.locked, invoice.locked_by_id = True, viewer.user.id
    try:
        await save_versioned(invoice, "invoice")
    except IntegrityError:
        raise FieldError(
            "billId", ErrorCode.UNIQUE, f"Another invoice has the bill ID '{invoice.bill_id}'."
        ) from None
    await store_lines_and_taxes(invoice, lines, taxes)
    if contract_ids is not None:
        await set_contracts(invoice, contract_ids, contracts_visible)
    await refresh_billing([old_company_id, invoice.company_id])
    changes: dict[str, Any] = audit.diff(before, invoice_snapshot(invoice))
    if lines is not None:
        changes["lines"] = invoice_snapshot(invoice, lines)["lines"]
    if taxes is not None:
        changes["taxes"] = invoice_snapshot(invoice, None, taxes)["taxes"]
    if contract_ids is not None:
        changes["related_contract_ids"] = contract_ids
    await audit.record(viewer.user, audit.UPDATE, "Invoice", invoice.id, changes, request_id)
    await events.record(
        None,
        EventObjectType.INVOICE,
        invoice.id,
        EventAction.UPDATE,
        changes,
        viewer.user.id,
        invoice.company_id,
    )
    if "expires_on" in changes or "bill_id" in changes:
        await sync_reminders(invoice, request_id)
    await add_change_activity(
        viewer, invoice.company_id, f"Invoice {invoice.bill_id} updated.", request_id=request_id
    )
    await touch_last_update([old_company_id])  # moved away: the old company changed too
    await queue_invoice_pdf(invoice)
    return invoice


async def set_status(
    viewer: Viewer,
    invoice: Invoice,
    status: InvoiceStatus,
    paid_on: date | None,
    request_id: str = "",
) -> Invoice:
    """PENDING, PAID (payment date: `paid_on`, default today) or CANCELED."""
    data: dict[str, Any] = {"status": status}
    if status == InvoiceStatus.PAID:
        data["paid_on"] = paid_on or date.today()
    elif paid_on is not None:
        raise FieldError("paidOn", ErrorCode.INVALID, "A payment date goes only with PAID.")
    else:
        data["paid_on"] = None
    return await update_invoice(viewer, invoice, data, Q(), Q(), request_id)


async def set_lock(viewer: Viewer, invoice: Invoice, locked: bool, request_id: str = "") -> Invoice:
    before = invoice_snapshot(invoice)
    invoice.locked = locked
    invoice.locked_by_id = viewer.user.id if locked else None
    invoice.version += 1
    await invoice.save(update_fields=["locked", "locked_by_id", "version", "updated_at"])
    await touch_last_update([invoice.company_id])
    changed = audit.diff(before, invoice_snapshot(invoice))
    await audit.record(viewer.user, audit.UPDATE, "Invoice", invoice.id, changed, request_id)
    await events.record(
        None,
        EventObjectType.INVOICE,
        invoice.id,
        EventAction.UPDATE,
        changed,
        viewer.user.id,
        invoice.company_id,
    )
    return invoice


async def regenerate_pdf(viewer: Viewer, invoice: Invoice, request_id: str = "") -> Invoice:
    """Queue a Submitted invoice's PDF again (e.g. after CRM setup's layout changed):
    it replaces the previous one once rendered, and retries a FAILED one; the invoice
    itself does not change. The one service call behind `invoiceRegeneratePdf`."""
    if invoice.kind != InvoiceKind.SUBMITTED:
        raise FieldError("id", ErrorCode.INVALID, "Received invoices have no generated PDF.")
    from crm_graphql.services.pdf_queue import queue_invoice_pdf

    await queue_invoice_pdf(invoice)
    await audit.record(
        viewer.user, audit.UPDATE, "Invoice", invoice.id, {"pdf": "regenerated"}, request_id
    )
    return invoice


async def delete_invoice(viewer: Viewer, invoice: Invoice, request_id: str = "") -> None:
    invoice_id = invoice.id
    if invoice.locked:
        raise FieldError("id", ErrorCode.CONFLICT, "The invoice is locked: unlock it first.")
    await audit.record(
        viewer.user, audit.DELETE, "Invoice", invoice.id, invoice_snapshot(invoice), request_id
    )
    await events.record(
        None,
        EventObjectType.INVOICE,
        invoice.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        invoice.company_id,
    )
    await files.delete_for_owners(
        FileOwner.INVOICE, [invoice.id], viewer.user, request_id=request_id
    )
    await invoice.delete()
    await refresh_billing([invoice.company_id])
    await calendar.delete_object_events("Invoice", invoice_id)
    await add_change_activity(
        viewer, invoice.company_id, f"Invoice {invoice.bill_id} deleted.", request_id=request_id
    )


async def record_rejection(
    viewer: Viewer, operation: str, object_id: Any, errors: list[FieldError], request_id: str
) -> None:
    """Audit a refused change (outside the rolled-back transaction): who tried, what."""
    await audit.record(
        viewer.user,
        REJECTED,
        "Invoice",
        object_id or "",
        {
            "operation": operation,
            "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors],
        },
        request_id,
    )


async def create_invoice_from_contract(
    viewer: Viewer, contract: Contract, request_id: str = ""
) -> Invoice:
    """A new Submitted invoice for the contract's company, linked to the contract, with
    CRM setup's defaults (currency, tax, numbering) and one line naming the contract
    (amount 0.00, to be filled in). The caller has checked that the contract is visible
    and that the viewer may create invoices (permissions sit above services)."""
    concept = f"Contract {contract.reference}"
    if contract.number:
        concept += f" ({contract.number})"
    data: dict[str, Any] = {
        "company_id": contract.company_id,
        "kind": InvoiceKind.SUBMITTED,
        "lines": [{"concept": concept[:500], "amount": "0"}],
        "reference": (contract.number or contract.reference)[:200],
    }
    invoice = await create_invoice(
        viewer, data, Q(id=contract.company_id), Q(id=contract.id), request_id
    )
    await ContractInvoice.get_or_create(contract_id=contract.id, invoice_id=invoice.id)
    return invoice
