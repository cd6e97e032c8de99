"""Printed documents: the invoice PDF (SPEC §6) and contract templates' macros (SPEC §5).

Invoice PDFs: `invoice_html` lays out the invoice like the seed's example (issuer block
from CRM setup with the logo as a data: URI, customer block, ids and dates, lines,
base, discount, subtotal, each tax, retention, total, description, payment methods,
footer, a PAID mark), labels in the invoice's language (services/languages.py: en, es,
fr, de, it, pt; invoices accept no other). The PDF is rendered after the invoice
commits, by the render queue (services/pdf_queue.py, `queue_invoice_pdf` is called by
each invoice create and edit), so the bill-numbering lock is never held during a render; the
invoice's `pdf_status` says whether its PDF is PENDING, READY or FAILED.

The generated PDF is the invoice's file stored with `generated=True` (only the server
sets it); every other file of the invoice is an attachment, whatever its name.

Every value put into HTML goes through `html.escape`; the invoice's description and
the setup's header/footer are text, not HTML."""

from __future__ import annotations

import base64
import html
import logging
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractStatus, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
)
from crm_graphql.models.setup import PaymentMethod
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.models.users import User
from crm_graphql.services import files, setup
from crm_graphql.services.invoicing import compute_totals
from crm_graphql.services.languages import labels_for, long_date
from crm_graphql.services.pdf import RenderError, render_pdf, sanitize_template
from crm_graphql.values import cents_to_decimal

log = logging.getLogger("crm_graphql.documents")

INVOICE_PDF_DESCRIPTION = "Generated invoice"
PDF = "application/pdf"

STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 10pt; color: #222; }
.head { display: flex; justify-content: space-between; align-items: flex-start; }
.head img { max-height: 70px; max-width: 240px; }
h1 { font-size: 20pt; margin: 0 0 6px 0; text-align: right; }
.ids { text-align: right; }
.parties { display: flex; justify-content: space-between; margin: 18px 0; }
.party { width: 48%; white-space: pre-line; }
.party b { display: block; }
table { width: 100%; border-collapse: collapse; margin-top: 10px; }
th { text-align: left; border-bottom: 1px solid #444; padding: 4px; }
td { padding: 4px; border-bottom: 1px solid #ddd; }
td.n, th.n { text-align: right; white-space: nowrap; }
.totals { width: 50%; margin-left: 50%; }
.totals .grand td { font-weight: bold; border-top: 2px solid #444; }
.text { white-space: pre-line; margin-top: 14px; }
.paid { position: fixed; top: 45%; left: 30%; font-size: 60pt; font-weight: bold;
  color: rgba(200, 0, 0, .4); border: 8px solid rgba(200, 0, 0, .4); padding: 4px 24px; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def money(value: Decimal, currency: str) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f} {currency}"


def _percent(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return text


async def _logo_data_uri() -> str | None:
    row = await setup.get_setup()
    logo = await setup.logo_file(row)
    if logo is None:
        return None
    try:
        data = await files.read_bytes(logo)
    except (FileNotFoundError, ValueError):
        log.error("the logo's bytes (file %s) are missing", logo.id)
        return None
    return f"data:{logo.content_type};base64,{base64.b64encode(data).decode()}"


async def invoice_html(invoice: Invoice) -> str:
    """The printed invoice as one self-contained HTML document."""
    crm = await setup.get_setup()
    company = await Company.get(id=invoice.company_id)
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    taxes = await InvoiceTax.filter(invoice_id=invoice.id).order_by("position", "id")
    methods = await PaymentMethod.all().order_by("name")
    totals = compute_totals(
        [cents_to_decimal(line.amount_cents) for line in lines],
        Decimal(invoice.discount_percent),
        [(t.name, Decimal(t.percent)) for t in taxes],
        Decimal(invoice.retention_percent),
    )
    t = labels_for(invoice.language)
    cur = invoice.currency
    logo = await _logo_data_uri()
    out: list[str] = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">',
        f"<title>{_e(t['invoice'])} {_e(invoice.bill_id)}</title><style>{STYLE}</style>",
        "</head><body>",
    ]
    if invoice.status == InvoiceStatus.PAID:
        out.append(f'<div class="paid">{_e(t["paid"])}</div>')
    out.append('<div class="head"><div>')
    if logo:
        out.append(f'<img alt="" src="{_e(logo)}">')
    out.append(f'<div class="text">{_e(crm.invoice_header)}</div></div>')
    out.append(f'<div class="ids"><h1>{_e(t["invoice"])}</h1>')
    out.append(f"<div>{_e(t['invoice_id'])}: <b>{_e(invoice.bill_id)}</b></div>")
    out.append(f"<div>{_e(t['issue_date'])}: {_e(invoice.issued_on.isoformat())}</div>")
    if invoice.expires_on:
        out.append(f"<div>{_e(t['expiration_date'])}: {_e(invoice.expires_on.isoformat())}</div>")
    if invoice.reference:
        out.append(f"<div>{_e(t['reference'])}: {_e(invoice.reference)}</div>")
    out.append("</div></div>")
    out.append('<div class="parties"><div class="party"></div><div class="party">')
    out.append(f"<b>{_e(company.name)}</b>")
    if company.fiscal_id:
        out.append(f"<div>{_e(t['fiscal_id'])}: {_e(company.fiscal_id)}</div>")
    out.append(f"<div>{_e(company.address)}</div><div>{_e(company.country)}</div>")
    out.append("</div></div>")
    out.append(f'<table><tr><th>{_e(t["concept"])}</th><th class="n">{_e(t["amount"])}</th></tr>')
    for line in lines:
        amount = money(cents_to_decimal(line.amount_cents), cur)
        out.append(f'<tr><td>{_e(line.concept)}</td><td class="n">{_e(amount)}</td></tr>')
    out.append('</table><table class="totals">')

    def row(label: str, value: Decimal, css: str = "") -> None:
        out.append(
            f'<tr class="{css}"><td>{_e(label)}</td><td class="n">{_e(money(value, cur))}</td></tr>'
        )

    row(t["tax_base"], totals.base)
    if totals.discount:
        concept = invoice.discount_concept or t["discount"]
        row(f"{concept} ({_percent(invoice.discount_percent)}%)", -totals.discount)
    row(t["subtotal"], totals.subtotal)
    for tax in totals.taxes:
        row(f"{tax.name} ({_percent(tax.percent)}%)", tax.amount)
    if totals.retention:
        concept = invoice.retention_concept or t["retention"]
        row(f"{concept} ({_percent(invoice.retention_percent)}%)", -totals.retention)
    row(t["total"], totals.total, "grand")
    out.append("</table>")
    if invoice.description:
        out.append(f'<h3>{_e(t["terms"])}</h3><div class="text">{_e(invoice.description)}</div>')
    if methods:
        out.append(f"<h3>{_e(t['payment'])}</h3>")
        for method in methods:
            out.append(f'<div class="text"><b>{_e(method.name)}</b>\n{_e(method.text)}</div>')
    if crm.invoice_footer:
        out.append(f'<div class="text">{_e(crm.invoice_footer)}</div>')
    out.append("</body></html>")
    return "".join(out)


def invoice_file_name(bill_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", bill_id).strip("_") or "invoice"
    return f"invoice_{safe}.pdf"


def invoice_pdf_q() -> dict[str, Any]:
    """Filter kwargs of an invoice's generated PDF rows (add owner_id)."""
    return {"owner_kind": FileOwner.INVOICE, "generated": True}


async def render(html_text: str, field: str = "pdf") -> bytes:
    """The PDF, or a payload error on `field` saying why it could not be made."""
    try:
        return await render_pdf(html_text)
    except RenderError as exc:
        code = ErrorCode.TOO_LARGE if exc.code == ErrorCode.TOO_LARGE else ErrorCode.RENDER_FAILED
        raise FieldError(field, code, exc.message) from None


# ---------------------------------------------------------------------------------------
# Contract templates

MACRO_RE = re.compile(r"_(?:custom_\d+|[a-z]+(?:_[a-z]+)*)_")


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


async def contract_macros(
    contract: Contract, template: ContractTemplate, today: date | None = None, language: str = "en"
) -> dict[str, str]:
    """Every macro of SPEC §5 for this contract, as plain (unescaped) text."""
    today = today or date.today()
    company = await Company.get(id=contract.company_id)
    manager = await User.filter(id=company.manager_id).first() if company.manager_id else None
    kind = (
        await ContractType.filter(id=contract.contract_type_id).first()
        if contract.contract_type_id
        else None
    )
    values: dict[str, str] = {
        "_id_contract_": str(contract.id),
        "_name_contract_": contract.reference,
        "_contract_number_": contract.number or "",
        "_contract_description_": contract.description,
        "_date_begin_": _date(contract.date_begin),
        "_date_end_": _date(contract.date_end),
        "_id_company_": str(contract.company_id),
        "_private_": "1" if contract.private else "0",
        "_id_status_": {ContractStatus.INACTIVE: "0", ContractStatus.ACTIVE: "1"}.get(
            contract.status, "2"
        ),
        "_name_status_": contract.status.value.capitalize(),
        "_company_name_": company.name,
        "_company_address_": company.address,
        "_company_fiscal_id_": company.fiscal_id or "",
        "_company_country_": company.country,
        "_company_website_": company.website,
        "_company_comments_": company.comments,
        "_company_manager_": manager.username if manager else "",
        "_company_last_update_": _date(company.last_update),
        "_company_payment_conditions_": str(company.payment_conditions),
        "_contract_type_id_": str(kind.id) if kind else "",
        "_contract_type_name_": kind.name if kind else "",
        "_contract_type_description_": kind.description if kind else "",
        "_template_id_": str(template.id),
        "_template_name_": template.name,
        "_template_description_": template.description,
        "_format_long_time_": long_date(today, language),
        "_format_short_time_": today.strftime("%d/%m/%Y"),
        "_format_annual_date_": str(today.year),
    }
    if contract.contract_type_id:
        field_ids = await CustomField.filter(
            entity=CustomFieldEntity.CONTRACT, owner_id=contract.contract_type_id
        ).values_list("id", flat=True)
        for field_id in field_ids:
            values[f"_custom_{field_id}_"] = ""
        for value in await CustomFieldValue.filter(
            field_id__in=list(field_ids), object_id=contract.id
        ):
            values[f"_custom_{value.field_id}_"] = value.value
    return values


def substitute(template_html: str, values: dict[str, str]) -> str:
    """Replace each known macro by its HTML-escaped value; unknown ones stay as they are.
    One pass, so a value that looks like a macro is not expanded again."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        return html.escape(values[token], quote=True) if token in values else token

    # Macros may sit next to each other ("_a__b_"): scan by longest known names first.
    names = sorted(values, key=len, reverse=True)
    if not names:
        return template_html
    pattern = re.compile("|".join(re.escape(n) for n in names))
    return pattern.sub(replace, template_html)


async def contract_html(
    contract: Contract, template: ContractTemplate, language: str = "en"
) -> str:
    values = await contract_macros(contract, template, language=language)
    # Sanitized after substitution: what reaches the browser is what was checked.
    body = sanitize_template(substitute(template.html, values))
    return '<!DOCTYPE html><meta charset="utf-8">' + body


async def attach_contract_pdf(
    contract: Contract,
    template: ContractTemplate,
    actor: User,
    request_id: str = "",
    language: str = "en",
) -> StoredFile:
    data = await render(await contract_html(contract, template, language))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{contract.reference}_{template.name}").strip("_")
    return await files.store(
        FileOwner.CONTRACT,
        contract.id,
        contract.company_id,
        data,
        f"{safe or 'contract'}.pdf",
        PDF,
        f"Generated from template {template.name}"[:255],
        actor,
        request_id=request_id,
    )
