"""Objects a mutation may change: one lookup per entity that applies the visibility
filter and the edit rule of its domain.

Shared by every resolver that writes to an object of another domain (attachments,
activities, contacts...), so no resolver module has to import another one. The caller
passes `deny` (the request context's `deny`, which records the denial for the audit
log) because this layer sits below the request context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.invoices import Invoice, InvoiceKind
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.companies import (
    belongs_to_visible_company_q,
    can_edit_company,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import can_edit_contract, visible_contracts_q
from crm_graphql.permissions.invoices import can_edit_invoice, visible_invoices_q
from crm_graphql.permissions.leads import can_edit_lead, visible_leads_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contracts import parse_ref

Deny = Callable[[str, str], Exception]
"""Records a denied access (what, reason) and returns the FORBIDDEN error to raise."""


async def editable_company(
    viewer: Viewer, deny: Deny, company_id: Any, field: str = "id"
) -> Company:
    """The company if the viewer may edit it; hidden ones are NOT_FOUND (a payload
    error), visible but read-only ones a FORBIDDEN error."""
    company = await Company.filter(
        visible_companies_q(viewer), id=parse_id(company_id, field)
    ).first()
    if company is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such company.")
    if not can_edit_company(viewer, company):
        raise deny(f"Company {company.id}", "not editable")
    return company


async def editable_contact(viewer: Viewer, deny: Deny, contact_id: Any) -> Contact:
    """The contact if the viewer may edit its company."""
    contact = await Contact.filter(
        belongs_to_visible_company_q(viewer), id=parse_id(contact_id, "id")
    ).first()
    if contact is None:
        raise FieldError("id", ErrorCode.NOT_FOUND, "No such contact.")
    await editable_company(viewer, deny, contact.company_id, "companyId")
    return contact


async def editable_contract(
    viewer: Viewer, deny: Deny, contract_id: Any, field: str = "id"
) -> Contract:
    """The contract if the viewer may edit it: hidden ones are a NOT_FOUND payload
    error on `field`, visible but read-only ones a FORBIDDEN error."""
    contract = await Contract.filter(
        visible_contracts_q(viewer), id=parse_ref(contract_id, field)
    ).first()
    if contract is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such contract.")
    company = await editable_company(viewer, deny, contract.company_id, field)
    if not can_edit_contract(viewer, company, contract):
        raise deny(f"Contract {contract.id}", "not editable")
    return contract


async def visible_invoice(viewer: Viewer, invoice_id: Any, field: str = "id") -> Invoice:
    """The invoice when the viewer can see it (row-locked on PostgreSQL until the
    mutation's transaction ends); hidden ones are a NOT_FOUND payload error."""
    invoice = (
        await Invoice.filter(visible_invoices_q(viewer), id=parse_id(invoice_id, field))
        .select_for_update()
        .first()
    )
    if invoice is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such invoice.")
    return invoice


def check_edit_invoice(viewer: Viewer, deny: Deny, invoice: Invoice) -> None:
    """FORBIDDEN when the viewer may never edit this invoice (IR only, or IW on a
    Submitted one); a CONFLICT payload error when only someone else's lock is in the way."""
    if can_edit_invoice(viewer, invoice):
        return
    writer = viewer.has("IW") or viewer.has("IM")
    if writer and invoice.kind == InvoiceKind.RECEIVED and invoice.locked:
        raise FieldError(
            "id",
            ErrorCode.CONFLICT,
            "The invoice is locked by another user: only they or an invoice manager (IM) "
            "may change it.",
        )
    reason = "read-only (Submitted)" if invoice.kind == InvoiceKind.SUBMITTED else "not editable"
    raise deny(f"Invoice {invoice.id}", reason)


async def editable_invoice(
    viewer: Viewer, deny: Deny, invoice_id: Any, field: str = "id"
) -> Invoice:
    """The invoice when the viewer may change it (attachments included)."""
    invoice = await visible_invoice(viewer, invoice_id, field)
    check_edit_invoice(viewer, deny, invoice)
    return invoice


async def visible_lead(viewer: Viewer, lead_id: Any, field: str = "id") -> Lead:
    """A lead the viewer can see, read for update; a hidden one is NOT_FOUND."""
    found = (
        await Lead.filter(visible_leads_q(viewer))
        .select_for_update()
        .filter(id=parse_ref(lead_id, field))
        .first()
    )
    if found is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such lead.")
    return found


async def editable_lead(viewer: Viewer, deny: Deny, lead_id: Any, field: str = "id") -> Lead:
    """The lead when the viewer owns it (or manages leads)."""
    lead = await visible_lead(viewer, lead_id, field)
    if not can_edit_lead(viewer, lead):
        raise deny(f"Lead {lead.id}", "not its owner")
    return lead
