"""Batch loaders for invoices: lines and taxes per invoice, a company's invoices and an
invoice's related contracts per parent (one window-function statement per level), each
with the viewer's visibility in the SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tortoise.expressions import Q, Subquery

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.dataloaders.companies import _by_id, _count_loader, _per_parent_loader
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey

INVOICE_ORDER = [SortKey("issued_on", descending=True), SortKey("id", descending=True)]
LINK_ORDER = [SortKey("contract_id"), SortKey("id")]


def _grouped(model: Any, column: str) -> DataLoader[int, list[Any]]:
    async def load(ids: Sequence[int]) -> list[list[Any]]:
        found: dict[int, list[Any]] = defaultdict(list)
        for row in await model.filter(**{f"{column}__in": set(ids)}).order_by(
            column, "position", "id"
        ):
            found[getattr(row, column)].append(row)
        return [found.get(i, []) for i in ids]

    return DataLoader(load)


class InvoiceLoaders:
    def __init__(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        visible = visible_invoices_q(viewer) if viewer else Q(id__in=[])
        contracts = visible_contracts_q(viewer) if viewer else Q(id__in=[])
        self.visible_q = visible
        self.invoice = DataLoader[int, Invoice | None](
            lambda ids: _by_id(Invoice.filter(visible), ids)
        )
        self.contract = DataLoader[int, Contract | None](
            lambda ids: _by_id(Contract.filter(contracts), ids)
        )
        self.lines = _grouped(InvoiceLine, "invoice_id")
        self.taxes = _grouped(InvoiceTax, "invoice_id")
        # A company's invoices, newest first; keyed by (company id, limit).
        self.company_invoices = _per_parent_loader(
            lambda ids: Invoice.filter(visible, company_id__in=ids), "company_id", INVOICE_ORDER
        )
        self.company_invoice_count = _count_loader(
            lambda ids: Invoice.filter(visible, company_id__in=ids), "company_id"
        )

        def links(ids: Any) -> Any:
            return ContractInvoice.filter(
                invoice_id__in=ids,
                contract_id__in=Subquery(Contract.filter(contracts).values("id")),
            )

        # An invoice's links to the contracts the viewer can see; keyed by (invoice, limit).
        self.contract_links = _per_parent_loader(links, "invoice_id", LINK_ORDER)
        self.contract_link_count = _count_loader(links, "invoice_id")
