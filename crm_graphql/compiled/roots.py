"""The root list fields the compiler covers: the same visibility, default filters,
filter specs and default orders as their resolvers (crm_graphql/resolvers/), taken from
the modules those resolvers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet

from crm_graphql.compiled.sql import Unsupported
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
from crm_graphql.schema.companies import COMPANY_DEFAULT_ORDER, COMPANY_FILTER_SPEC
from crm_graphql.schema.contacts import CONTACT_DEFAULT_ORDER, CONTACT_FILTER_SPEC
from crm_graphql.schema.contracts import (
    CONTRACT_DEFAULT_ORDER,
    CONTRACT_FILTER_SPEC,
    default_status_q,
)
from crm_graphql.schema.invoice_filters import INVOICE_DEFAULT_ORDER, INVOICE_FILTER_SPEC
from crm_graphql.schema.leads import LEAD_DEFAULT_ORDER, LEAD_FILTER_SPEC, default_open_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.billing import with_billing_key
from crm_graphql.services.listing import FilterSpec, SortKey


@dataclass(frozen=True)
class RootSpec:
    """A root connection: `base(viewer, arguments)` is the visible rows before the
    client's filter (what the resolver hands `resolvers.common.connection`), with the
    computed sort columns its order needs (annotations); ListError for bad input."""

    type_name: str
    base: Callable[[Viewer, dict[str, Any]], QuerySet[Any]]
    filter_spec: FilterSpec
    default_order: Sequence[SortKey]


def _companies(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # Billing in a filter or order: the resolver's denial without IR (the executor
    # answers it), its computed sort column with it (a bad currency: ListError).
    queryset = Company.filter(visible_companies_q(viewer))
    if invoice_sums_used(args.get("filter"), args.get("order_by")):
        if not can_see_invoice_sums(viewer):
            raise Unsupported("billing without IR")
        return with_billing_key(queryset, args.get("order_by"))
    return queryset


def _contacts(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Contact.filter(belongs_to_visible_company_q(viewer))


def _contracts(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Contract.filter(visible_contracts_q(viewer)).filter(default_status_q(args.get("filter")))


def _invoices(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Invoice.filter(visible_invoices_q(viewer))


def _leads(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # A saved search is read (and checked) first, its JSON parsed into the filter.
    if args.get("saved_search_id") is not None:
        raise Unsupported("savedSearchId")
    return Lead.filter(visible_leads_q(viewer)).filter(default_open_q(args.get("filter")))


ROOTS: dict[str, RootSpec] = {
    "companies": RootSpec("Company", _companies, COMPANY_FILTER_SPEC, COMPANY_DEFAULT_ORDER),
    "contacts": RootSpec("Contact", _contacts, CONTACT_FILTER_SPEC, CONTACT_DEFAULT_ORDER),
    "contracts": RootSpec("Contract", _contracts, CONTRACT_FILTER_SPEC, CONTRACT_DEFAULT_ORDER),
    "invoices": RootSpec("Invoice", _invoices, INVOICE_FILTER_SPEC, INVOICE_DEFAULT_ORDER),
    "leads": RootSpec("Lead", _leads, LEAD_FILTER_SPEC, LEAD_DEFAULT_ORDER),
}


@dataclass(frozen=True)
class SingleSpec:
    """A root field that reads one object by id: `visible(viewer)` is the rule of the
    queryset its resolver hands `get_or_404` (an invisible or unknown id is its NOT_FOUND
    error, which the executor produces: the compiled path answers only when the row is
    found)."""

    type_name: str
    visible: Callable[[Viewer], QuerySet[Any]]


# One row: its rule is read through the row's company (a join, see
# `company_columns_via`), not by building the set of every visible company.
SINGLES: dict[str, SingleSpec] = {
    "company": SingleSpec("Company", lambda viewer: Company.filter(visible_companies_q(viewer))),
    "contact": SingleSpec(
        "Contact",
        lambda viewer: Contact.filter(belongs_to_visible_company_q(viewer, via="company")),
    ),
    "contract": SingleSpec(
        "Contract", lambda viewer: Contract.filter(visible_contracts_q(viewer, via="company"))
    ),
    "invoice": SingleSpec(
        "Invoice", lambda viewer: Invoice.filter(visible_invoices_q(viewer, via="company"))
    ),
    "lead": SingleSpec("Lead", lambda viewer: Lead.filter(visible_leads_q(viewer))),
}
