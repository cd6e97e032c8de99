"""Helpers shared by every domain's root resolvers."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput, NotFound
from crm_graphql.ids import query_id
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.permissions import editable
from crm_graphql.schema.common import Connection, Edge, PageInfo, page_size
from crm_graphql.services.listing import (
    FilterSpec,
    ListError,
    SortKey,
    fetch_page,
    filter_q,
    input_fields,
    order_pairs,
    sort_keys,
)


async def connection(
    info: Info,
    queryset: QuerySet[Any],
    *,
    flt: Any = None,
    spec: FilterSpec | None = None,
    order_by: Sequence[Any] | None = None,
    default_order: Sequence[SortKey] = (SortKey("id"),),
    first: int | None = None,
    after: str | None = None,
) -> Connection[Any]:
    """A root list: visibility already applied to `queryset`, then filter, keyset page."""
    limits = info.context.settings.limits
    size = page_size(first, limits.page_size_default, limits.page_size_max)
    try:
        if flt is not None and spec is not None:
            queryset = queryset.filter(
                filter_q(flt, spec, model=queryset.model, viewer=info.context.viewer)
            )
        keys = sort_keys(order_pairs(order_by), default_order)
        page = await fetch_page(queryset, keys, size, after)
    except ListError as exc:
        raise BadUserInput(str(exc)) from None
    edges = [Edge(cursor=c, node=r) for r, c in zip(page.rows, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        _count=page.count,
    )


def parse_id(value: Any) -> int:
    """An id argument of a query as an int; a malformed id simply finds nothing."""
    return query_id(value)


async def get_or_404(model: type[Model], queryset: QuerySet[Any], value: Any) -> Any:
    obj = await queryset.filter(id=parse_id(value)).first()
    if obj is None:
        raise NotFound(f"No {model.__name__.lower()} with id {value}.")
    return obj


__all__ = ["connection", "get_or_404", "input_fields", "parse_id"]


# The lookups a mutation uses to reach an object it may change, in the shape resolvers
# call them; the rules are in permissions/editable.py. Here so that no resolver module
# imports another.


async def editable_company(info: Info, company_id: Any, field: str = "id") -> Company:
    """The company if the viewer may edit it (permissions/editable.py)."""
    return await editable.editable_company(
        info.context.require_viewer(), info.context.deny, company_id, field
    )


async def editable_contact(info: Info, contact_id: Any) -> Contact:
    """The contact if the viewer may edit its company (permissions/editable.py)."""
    return await editable.editable_contact(
        info.context.require_viewer(), info.context.deny, contact_id
    )


async def editable_contract(info: Info, contract_id: Any, field: str = "id") -> Contract:
    """The contract if the viewer may edit it (permissions/editable.py)."""
    return await editable.editable_contract(
        info.context.require_viewer(), info.context.deny, contract_id, field
    )


async def editable_invoice(info: Info, invoice_id: Any, field: str = "id") -> Invoice:
    """The invoice when the viewer may change it (permissions/editable.py)."""
    return await editable.editable_invoice(
        info.context.require_viewer(), info.context.deny, invoice_id, field
    )


async def editable_lead(info: Info, lead_id: Any, field: str = "id") -> Lead:
    """The lead when the viewer may change it (permissions/editable.py)."""
    return await editable.editable_lead(
        info.context.require_viewer(), info.context.deny, lead_id, field
    )


async def close_upload(upload: Any) -> None:
    """Release an uploaded part's spooled file (sync or async close)."""
    close = getattr(upload, "close", None)
    if callable(close):
        result = close()
        if inspect.isawaitable(result):
            await result


async def visible_lead(info: Info, lead_id: Any, field: str = "id") -> Lead:
    """A lead the viewer can see, read for update (permissions/editable.py)."""
    return await editable.visible_lead(info.context.require_viewer(), lead_id, field)
