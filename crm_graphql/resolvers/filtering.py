"""A domain's filter input turned into a queryset of what the viewer can see: shared by
the domain's list queries and its statistics (resolvers/*_statistics.py), so those need
not import the domain's resolver module."""

from __future__ import annotations

from typing import Any

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.companies import belongs_to_visible_company_q, visible_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import (
    can_see_invoice_sums,
    invoice_sums_used,
    visible_invoices_q,
)
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.schema.companies import COMPANY_FILTER_SPEC, CompanyFilter
from crm_graphql.schema.contacts import CONTACT_FILTER_SPEC, ContactFilter
from crm_graphql.schema.contracts import CONTRACT_FILTER_SPEC, ContractFilter
from crm_graphql.schema.invoice_filters import INVOICE_FILTER_SPEC, InvoiceFilter
from crm_graphql.schema.leads import LEAD_FILTER_SPEC, LeadFilter, default_open_q
from crm_graphql.services.listing import ListError, filter_q


def _matching(info: Info, queryset: Any, flt: Any, spec: Any, model: Any) -> Any:
    """`queryset` narrowed by the filter input (a bad filter is BAD_USER_INPUT)."""
    if flt is None:
        return queryset
    try:
        return queryset.filter(filter_q(flt, spec, model=model, viewer=info.context.viewer))
    except ListError as exc:
        raise BadUserInput(str(exc)) from None


def filtered_invoices(info: Info, flt: InvoiceFilter | None) -> Any:
    queryset = Invoice.filter(visible_invoices_q(info.context.require_viewer()))
    return _matching(info, queryset, flt, INVOICE_FILTER_SPEC, Invoice)


def filtered_leads(info: Info, flt: LeadFilter | None, *, open_default: bool = True) -> Any:
    """Visible leads matching `flt`; open ones only unless the filter asks for closed
    ones (`open_default=False`: statistics count closed leads too)."""
    queryset = Lead.filter(visible_leads_q(info.context.require_viewer()))
    if open_default:
        queryset = queryset.filter(default_open_q(flt))
    return _matching(info, queryset, flt, LEAD_FILTER_SPEC, Lead)


def filtered_companies(info: Info, flt: CompanyFilter | None) -> Any:
    """Visible companies matching `flt`; a billing condition needs IR (FORBIDDEN)."""
    viewer = info.context.require_viewer()
    if invoice_sums_used(flt) and not can_see_invoice_sums(viewer):
        raise info.context.deny(f"{info.field_name}.filter.billing", "needs IR")
    queryset = Company.filter(visible_companies_q(viewer))
    return _matching(info, queryset, flt, COMPANY_FILTER_SPEC, Company)


def filtered_contacts(info: Info, flt: ContactFilter | None) -> Any:
    queryset = Contact.filter(belongs_to_visible_company_q(info.context.require_viewer()))
    return _matching(info, queryset, flt, CONTACT_FILTER_SPEC, Contact)


def filtered_contracts(info: Info, flt: ContractFilter | None) -> Any:
    """Visible contracts matching `flt`, every status (the list's ACTIVE-only default
    is for browsing; figures count what the filter says)."""
    queryset = Contract.filter(visible_contracts_q(info.context.require_viewer()))
    return _matching(info, queryset, flt, CONTRACT_FILTER_SPEC, Contract)
