"""Batch loaders for contracts: by id, per company, related contracts and related
invoices, contract types and custom field values. Every loader that returns contracts
applies the viewer's contract visibility (company rule + private flag) in its SQL, and
related invoices the invoice visibility."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tortoise.expressions import Q, Subquery

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.dataloaders.companies import _by_id, _count_loader, _per_parent_loader
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink, ContractType
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.invoices import Invoice
from crm_graphql.permissions.companies import NOTHING
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.services import customfields
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey

# Under a company: newest first.
CONTRACT_ORDER = [SortKey("date_begin", descending=True), SortKey("id", descending=True)]
# Related invoices of a contract: newest invoice first (the link rows are ordered).
INVOICE_LINK_ORDER = [SortKey("invoice_id", descending=True), SortKey("id", descending=True)]


class ContractLoaders:
    def __init__(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        visible = visible_contracts_q(viewer) if viewer else NOTHING
        invoices = visible_invoices_q(viewer) if viewer else NOTHING
        self.visible_q = visible
        self.contract = DataLoader[int, Contract | None](
            lambda ids: _by_id(Contract.filter(visible), ids)
        )
        self.contract_type = DataLoader[int, ContractType | None](
            lambda ids: _by_id(ContractType.all(), ids)
        )
        self.by_company = _per_parent_loader(
            lambda ids: Contract.filter(visible, company_id__in=ids), "company_id", CONTRACT_ORDER
        )
        self.count_by_company = _count_loader(
            lambda ids: Contract.filter(visible, company_id__in=ids), "company_id"
        )

        def invoice_links(ids: Any) -> Any:
            links = ContractInvoice.filter(contract_id__in=ids)
            if viewer is not None and viewer.is_superadmin:
                return links  # every invoice is visible: no subquery over the whole table
            # Only the invoices linked to these contracts are checked against the rule,
            # so the subquery stays the size of the page, not of the invoices table.
            linked = Subquery(ContractInvoice.filter(contract_id__in=ids).values("invoice_id"))
            return links.filter(
                invoice_id__in=Subquery(Invoice.filter(invoices, id__in=linked).values("id"))
            )

        # (contract id, limit) -> the first link rows; the invoices come from `invoice`.
        self.invoice_links = _per_parent_loader(invoice_links, "contract_id", INVOICE_LINK_ORDER)
        self.invoice_count = _count_loader(invoice_links, "contract_id")
        self.invoice = DataLoader[int, Invoice | None](
            lambda ids: _by_id(Invoice.filter(invoices), ids)
        )
        self.related = DataLoader[int, list[Contract]](self._related)
        self.values = DataLoader[int, dict[int, str]](self._values)

    async def related_invoices(self, contract_id: int, limit: int) -> list[Invoice]:
        """The first `limit + 1` visible invoices related to the contract: two statements
        per request level (links per contract, then the invoices by id)."""
        links = await self.invoice_links.load((contract_id, limit))
        found = await asyncio.gather(*(self.invoice.load(link.invoice_id) for link in links))
        return [i for i in found if i is not None]

    async def _related(self, ids: Sequence[int]) -> list[list[Contract]]:
        """Related contracts (both directions of the stored pair) the viewer can see."""
        wanted = set(ids)
        links = await ContractLink.filter(
            Q(contract_id__in=wanted) | Q(related_id__in=wanted)
        ).values_list("contract_id", "related_id")
        others: dict[int, set[int]] = defaultdict(set)
        for a, b in links:
            if a in wanted:
                others[a].add(b)
            if b in wanted:
                others[b].add(a)
        every = set().union(*others.values()) if others else set()
        rows = {}
        if every:
            rows = {
                c.id: c for c in await Contract.filter(self.visible_q, id__in=every).order_by("id")
            }
        return [[rows[o] for o in sorted(others.get(i, ())) if o in rows] for i in ids]

    async def _values(self, ids: Sequence[int]) -> list[dict[int, str]]:
        found = await customfields.values_for_objects(CustomFieldEntity.CONTRACT, ids)
        return [found.get(i, {}) for i in ids]
