"""A contract's related contracts and invoices (SPEC §5): read and replaced among those
the viewer can see; links to objects the viewer cannot see are kept."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q, Subquery

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink
from crm_graphql.models.invoices import Invoice
from crm_graphql.services.orm import column_values


async def visible_ids(raw: list[Any] | None, field: str, visible: Q, model: Any) -> list[int]:
    """Ids of objects of `model` the viewer can see; any other is NOT_FOUND."""
    wanted = sorted({parse_id(v, field) for v in raw or []})
    if not wanted:
        return []
    found = set(await column_values(model.filter(visible, id__in=wanted), "id"))
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise FieldError(field, ErrorCode.NOT_FOUND, f"No such object: {', '.join(missing)}.")
    return wanted


async def set_related_contracts(
    contract_id: int, related: list[int], visible: Q | None = None
) -> None:
    """Replace the contract's related contracts among those `visible` (links to
    contracts the viewer cannot see stay); each pair is stored once, lower id first."""
    if contract_id in related:
        raise FieldError(
            "relatedContractIds", ErrorCode.INVALID, "A contract cannot be related to itself."
        )
    old = set(await related_contract_ids(contract_id, visible))
    gone = old - set(related)
    if gone:
        await ContractLink.filter(
            Q(contract_id=contract_id, related_id__in=gone)
            | Q(related_id=contract_id, contract_id__in=gone)
        ).delete()
    new = [r for r in related if r not in old]
    if new:
        await ContractLink.bulk_create(
            [
                ContractLink(contract_id=min(contract_id, r), related_id=max(contract_id, r))
                for r in new
            ]
        )


async def set_related_invoices(
    contract_id: int, invoice_ids: list[int], visible: Q | None = None
) -> None:
    """Replace the contract's related invoices among those `visible` (others stay)."""
    old = set(await related_invoice_ids(contract_id, visible))
    gone = old - set(invoice_ids)
    if gone:
        await ContractInvoice.filter(contract_id=contract_id, invoice_id__in=gone).delete()
    new = [i for i in invoice_ids if i not in old]
    if new:
        await ContractInvoice.bulk_create(
            [ContractInvoice(contract_id=contract_id, invoice_id=i) for i in new]
        )


async def related_contract_ids(contract_id: int, visible: Q | None = None) -> list[int]:
    rows = await ContractLink.filter(
        Q(contract_id=contract_id) | Q(related_id=contract_id)
    ).values_list("contract_id", "related_id")
    found = {b if a == contract_id else a for a, b in rows}
    if visible is not None and found:
        found = set(await column_values(Contract.filter(visible, id__in=found), "id"))
    return sorted(found)


async def related_invoice_ids(contract_id: int, visible: Q | None = None) -> list[int]:
    links = ContractInvoice.filter(contract_id=contract_id)
    if visible is not None:
        links = links.filter(invoice_id__in=Subquery(Invoice.filter(visible).values("id")))
    return sorted(await column_values(links, "invoice_id"))
