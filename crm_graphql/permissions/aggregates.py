"""Access to the generic aggregates: the bits each entity's aggregate needs (those of
its list) and the columns the aggregate reads that depend on the viewer. The rows
themselves come from each list's visibility filter (`resolvers/filtering.py`)."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Case, F, When

from crm_graphql.permissions.companies import visible_company_ids
from crm_graphql.permissions.leads import LEAD_BITS
from crm_graphql.services.aggregate_catalog import LEAD_COMPANY_SEEN
from crm_graphql.services.auth import Viewer

# The bits of each entity's list query: its aggregate needs the same.
AGGREGATE_BITS: dict[str, tuple[str, ...]] = {
    "companies": ("CR",),
    "contacts": ("CR",),
    "contracts": ("CR",),
    "invoices": ("IR",),
    "leads": LEAD_BITS,
}


def viewer_columns(entity: str, viewer: Viewer) -> dict[str, Any]:
    """Annotations for the aggregate's rows: a lead's managing company only when the
    viewer may see it (as `Lead.company`), so grouping by it names no hidden company."""
    if entity != "leads":
        return {}
    if viewer.is_superadmin:
        return {LEAD_COMPANY_SEEN: F("company_id")}
    seen = When(company_id__in=visible_company_ids(viewer), then=F("company_id"))
    return {LEAD_COMPANY_SEEN: Case(seen, default=None)}
