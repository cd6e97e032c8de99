"""A domain's filter input turned into a queryset of what the viewer can see: shared by
the domain's list queries and its statistics (resolvers/*_statistics.py), so those need
not import the domain's resolver module."""

from __future__ import annotations

from typing import Any

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.permissions.leads import visible_leads_q
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
