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
Deleting a company with invoices is refused by services/companies.py itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from crm_graphql.errors import FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
)
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services import audit, calendar, files
from crm_graphql.services.activities import add_change_activity, touch_last_update
from crm_graphql.services.auth import Viewer
from crm_graphql.services.invoicing import allocate_bill_id, compute_totals, parse_pattern
from crm_graphql.services.languages import check_language
from crm_graphql.services.mutations import check_version, save_versioned
from crm_graphql.services.orm import column_values
from crm_graphql.services.pdf_queue import queue_invoice_pdf
from crm_graphql.values import (
    cents_to_decimal,
    currency_code,
    decimal_to_cents,
    parse_amount,
    parse_percent,
)

# Audit action for a change the API refused (bad input, a locked invoice...).
REJECTED = "REJECTED"

MAX_LINES = 500
MAX_TAXES = 20
TEXT_LIMITS = {
    "bill_id": 100,
    "reference": 200,
    "language": 10,
    "discount_concept": 200,
    "retention_concept": 200,
    "description": 20_000,
    "internal_note": 20_000,
}
FIELD_NAMES = {
    "bill_id": "billId",
    "reference": "reference",
    "language": "language",
    "discount_concept": "discountConcept",
    "retention_concept": "retentionConcept",
    "description": "description",
    "internal_note": "internalNote",
    "discount_percent": "discountPercent",
    "retention_percent": "retentionPercent",
    "issued_on": "issuedOn",
    "expires_on": "expiresOn",
    "paid_on": "paidOn",
}


# ------------------------------------------------------------------ parsing values


async def crm_setup() -> CrmSetup:
    """The single setup row (created with the defaults when missing)."""
    setup, _ = await CrmSetup.get_or_create(id=1)
    return setup


def _lines(raw: Sequence[Any], errors: list[FieldError]) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    if not raw:
        errors.append(FieldError("lines", "REQUIRED", "An invoice needs at least one line."))
    if len(raw) > MAX_LINES:
        errors.append(FieldError("lines", "TOO_LARGE", f"At most {MAX_LINES} lines."))
        return lines
    for i, item in enumerate(raw):
        concept = str(_get(item, "concept") or "").strip()
        if not concept:
            errors.append(FieldError(f"lines.{i}.concept", "REQUIRED", "A line needs a concept."))
        elif len(concept) > 500:
            errors.append(FieldError(f"lines.{i}.concept", "TOO_LARGE", "At most 500 characters."))
        try:
            lines.append((concept, parse_amount(_get(item, "amount"), f"lines.{i}.amount")))
        except FieldError as exc:
            errors.append(exc)
    return lines


def _taxes(raw: Sequence[Any], errors: list[FieldError]) -> list[tuple[str, Decimal]]:
    taxes: list[tuple[str, Decimal]] = []
    if not raw:
        errors.append(FieldError("taxes", "REQUIRED", "An invoice needs at least one tax."))
    if len(raw) > MAX_TAXES:
        errors.append(FieldError("taxes", "TOO_LARGE", f"At most {MAX_TAXES} taxes."))
        return taxes
    for i, item in enumerate(raw):
        name = str(_get(item, "name") or "").strip()
        if not name:
            errors.append(FieldError(f"taxes.{i}.name", "REQUIRED", "A tax needs a name."))
        elif len(name) > 100:
            errors.append(FieldError(f"taxes.{i}.name", "TOO_LARGE", "At most 100 characters."))
        try:
            taxes.append((name, parse_percent(_get(item, "percent"), f"taxes.{i}.percent")))
        except FieldError as exc:
            errors.append(exc)
    return taxes


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _clean(data: dict[str, Any], errors: list[FieldError]) -> None:
    """Normalise scalar values in place (text, percentages, currency, enums)."""
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            data[name] = "" if data[name] is None else str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(
                    FieldError(FIELD_NAMES[name], "TOO_LARGE", f"At most {limit} characters.")
                )
    if "language" in data:
        try:
            data["language"] = check_language(data["language"])
        except FieldError as exc:
            errors.append(exc)
    for name in ("discount_percent", "retention_percent"):
        if name in data:
            try:
                data[name] = parse_percent(
                    "0" if data[name] is None else data[name], FIELD_NAMES[name]
                )
            except FieldError as exc:
                errors.append(exc)
    if "currency" in data:
        try:
            data["currency"] = currency_code(data["currency"], "currency")
        except FieldError as exc:
            errors.append(exc)
            data["currency"] = str(data["currency"] or "").strip().upper()
    for name, enum in (("kind", InvoiceKind), ("status", InvoiceStatus)):
        if name in data and data[name] is not None:
            data[name] = enum(getattr(data[name], "value", data[name]))
    if "issued_on" in data and data["issued_on"] is None:
        errors.append(FieldError("issuedOn", "REQUIRED", "An invoice needs a creation date."))


def _check_dates(invoice_dates: dict[str, date | None], errors: list[FieldError]) -> None:
    issued, expires, paid = (
        invoice_dates.get("issued_on"),
        invoice_dates.get("expires_on"),
        invoice_dates.get("paid_on"),
    )
    if issued and expires and expires < issued:
        errors.append(
            FieldError("expiresOn", "INVALID", "The expiration date is before the creation date.")
        )
    if issued and paid and paid < issued:
        errors.append(
            FieldError("paidOn", "INVALID", "The payment date is before the creation date.")
        )


async def _bill_id_free(bill_id: str, exclude_id: int | None) -> FieldError | None:
    clash = Invoice.filter(bill_id=bill_id)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        return FieldError("billId", "UNIQUE", f"Another invoice has the bill ID '{bill_id}'.")
    return None


async def _visible_contract_ids(raw: Sequence[Any], contracts_visible: Q) -> list[int]:
    ids: list[int] = []
    for value in raw:
        cid = parse_id(value, "relatedContractIds")
        if cid not in ids:
            ids.append(cid)
    found = set(await column_values(Contract.filter(contracts_visible, id__in=ids), "id"))
    missing = [i for i in ids if i not in found]
    if missing:
        raise FieldError("relatedContractIds", "NOT_FOUND", f"No such contract: {missing[0]}.")
    return ids


async def _set_contracts(invoice: Invoice, ids: list[int], contracts_visible: Q) -> None:
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


async def _store_lines_and_taxes(
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


def _apply_totals(
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


async def _sync_reminders(invoice: Invoice, request_id: str) -> None:
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


def _snapshot(
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
    _clean(data, errors)
    lines = _lines(raw_lines, errors)
    taxes = _taxes(raw_taxes, errors)
    _check_dates(data, errors)
    company = None
    try:
        company_id = parse_id(data.pop("company_id", None), "companyId")
        company = await Company.filter(companies_visible, id=company_id).first()
        if company is None:
            raise FieldError("companyId", "NOT_FOUND", "No such company.")
    except FieldError as exc:
        errors.append(exc)
    try:
        contract_ids = await _visible_contract_ids(contract_ids_raw, contracts_visible)
    except FieldError as exc:
        errors.append(exc)
        contract_ids = []
    kind = data["kind"]
    bill_id = data.get("bill_id") or ""
    if not bill_id:
        data.pop("bill_id", None)
        if kind == InvoiceKind.RECEIVED:
            errors.append(
                FieldError("billId", "REQUIRED", "A received invoice needs the supplier's bill ID.")
            )
        elif not setup.invoice_auto_number:
            errors.append(
                FieldError("billId", "REQUIRED", "Automatic numbering is off: give a bill ID.")
            )
    elif clash := await _bill_id_free(bill_id, None):
        errors.append(clash)
    if data.get("status") == InvoiceStatus.PAID and not data.get("paid_on"):
        data["paid_on"] = date.today()
    if create_reminder and not data.get("expires_on"):
        errors.append(
            FieldError("expiresOn", "REQUIRED", "A payment reminder needs an expiration date.")
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
    _apply_totals(invoice, lines, taxes)
    try:
        await invoice.save()
    except IntegrityError:
        raise FieldError(
            "billId", "UNIQUE", f"Another invoice has the bill ID '{invoice.bill_id}'."
        ) from None
    await _store_lines_and_taxes(invoice, lines, taxes)
    await _set_contracts(invoice, contract_ids, contracts_visible)
    await refresh_billing([company.id])
    await audit.record(
        viewer.user,
        audit.CREATE,
        "Invoice",
        invoice.id,
        _snapshot(invoice, lines, taxes) | {"related_contract_ids": contract_ids},
        request_id,
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
    _clean(data, errors)
    lines = _lines(raw_lines, errors) if raw_lines is not None else None
    taxes = _taxes(raw_taxes, errors) if raw_taxes is not None else None
    if "bill_id" in data:
        if not data["bill_id"]:
            errors.append(FieldError("billId", "REQUIRED", "An invoice needs a bill ID."))
        elif clash := await _bill_id_free(data["bill_id"], invoice.id):
            errors.append(clash)
    old_company_id = invoice.company_id
    if "company_id" in data:
        try:
            company_id = parse_id(data.pop("company_id"), "companyId")
            if not await Company.filter(companies_visible, id=company_id).exists():
                raise FieldError("companyId", "NOT_FOUND", "No such company.")
            data["company_id"] = company_id
        except FieldError as exc:
            errors.append(exc)
    contract_ids = None
    if contract_ids_raw is not None:
        try:
            contract_ids = await _visible_contract_ids(contract_ids_raw, contracts_visible)
        except FieldError as exc:
            errors.append(exc)
    merged = {
        name: data.get(name, getattr(invoice, name))
        for name in ("issued_on", "expires_on", "paid_on")
    }
    paying = data.get("status") == InvoiceStatus.PAID and invoice.status != InvoiceStatus.PAID
    if paying and not merged["paid_on"]:
        merged["paid_on"] = data["paid_on"] = date.today()
    _check_dates(merged, errors)
    if errors:
        raise PayloadErrors(errors)
    before = _snapshot(invoice)
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
    _apply_totals(
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
            "billId", "UNIQUE", f"Another invoice has the bill ID '{invoice.bill_id}'."
        ) from None
    await _store_lines_and_taxes(invoice, lines, taxes)
    if contract_ids is not None:
        await _set_contracts(invoice, contract_ids, contracts_visible)
    await refresh_billing([old_company_id, invoice.company_id])
    changes: dict[str, Any] = audit.diff(before, _snapshot(invoice))
    if lines is not None:
        changes["lines"] = _snapshot(invoice, lines)["lines"]
    if taxes is not None:
        changes["taxes"] = _snapshot(invoice, None, taxes)["taxes"]
    if contract_ids is not None:
        changes["related_contract_ids"] = contract_ids
    await audit.record(viewer.user, audit.UPDATE, "Invoice", invoice.id, changes, request_id)
    if "expires_on" in changes or "bill_id" in changes:
        await _sync_reminders(invoice, request_id)
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
        raise FieldError("paidOn", "INVALID", "A payment date goes only with PAID.")
    else:
        data["paid_on"] = None
    return await update_invoice(viewer, invoice, data, Q(), Q(), request_id)


async def set_lock(viewer: Viewer, invoice: Invoice, locked: bool, request_id: str = "") -> Invoice:
    before = _snapshot(invoice)
    invoice.locked = locked
    invoice.locked_by_id = viewer.user.id if locked else None
    invoice.version += 1
    await invoice.save(update_fields=["locked", "locked_by_id", "version", "updated_at"])
    await touch_last_update([invoice.company_id])
    await audit.record(
        viewer.user,
        audit.UPDATE,
        "Invoice",
        invoice.id,
        audit.diff(before, _snapshot(invoice)),
        request_id,
    )
    return invoice


async def regenerate_pdf(viewer: Viewer, invoice: Invoice, request_id: str = "") -> Invoice:
    """Queue a Submitted invoice's PDF again (e.g. after CRM setup's layout changed):
    it replaces the previous one once rendered, and retries a FAILED one; the invoice
    itself does not change. The one service call behind `invoiceRegeneratePdf`."""
    if invoice.kind != InvoiceKind.SUBMITTED:
        raise FieldError("id", "INVALID", "Received invoices have no generated PDF.")
    from crm_graphql.services.pdf_queue import queue_invoice_pdf

    await queue_invoice_pdf(invoice)
    await audit.record(
        viewer.user, audit.UPDATE, "Invoice", invoice.id, {"pdf": "regenerated"}, request_id
    )
    return invoice


async def delete_invoice(viewer: Viewer, invoice: Invoice, request_id: str = "") -> None:
    invoice_id = invoice.id
    if invoice.locked:
        raise FieldError("id", "CONFLICT", "The invoice is locked: unlock it first.")
    await audit.record(
        viewer.user, audit.DELETE, "Invoice", invoice.id, _snapshot(invoice), request_id
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


# ------------------------------------------------------------------ CSV export

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
