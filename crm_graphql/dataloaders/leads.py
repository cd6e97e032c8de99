"""Batch loaders for leads: by id (with the lead rule in SQL), tags, types, custom
values, history and activities per lead, and open-lead figures per managing company."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tortoise.functions import Count, Sum

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.dataloaders.companies import _by_id, _count_loader, _per_parent_loader
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.leads import (
    CLOSED_FROM,
    Lead,
    LeadActivity,
    LeadHistory,
    LeadTag,
    LeadTagLink,
    LeadType,
)
from crm_graphql.models.setup import CrmSetup
from crm_graphql.permissions.companies import NOTHING
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services import customfields
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey
from crm_graphql.services.setup import get_setup

HISTORY_ORDER = [SortKey("id")]
LEAD_ACTIVITY_ORDER = [SortKey("created_at", descending=True), SortKey("id", descending=True)]


class LeadLoaders:
    def __init__(self, viewer: Viewer | None) -> None:
        visible = visible_leads_q(viewer) if viewer else NOTHING
        self.visible_q = visible
        self.lead = DataLoader[int, Lead | None](lambda ids: _by_id(Lead.filter(visible), ids))
        self.lead_type = DataLoader[int, LeadType | None](lambda ids: _by_id(LeadType.all(), ids))
        self.tags = DataLoader[int, list[LeadTag]](self._tags)
        self.values = DataLoader[int, dict[int, str]](self._values)
        self.history = _per_parent_loader(
            lambda ids: LeadHistory.filter(lead_id__in=ids), "lead_id", HISTORY_ORDER
        )
        self.history_count = _count_loader(
            lambda ids: LeadHistory.filter(lead_id__in=ids), "lead_id"
        )
        self.activities = _per_parent_loader(
            lambda ids: LeadActivity.filter(lead_id__in=ids), "lead_id", LEAD_ACTIVITY_ORDER
        )
        self.activity_count = _count_loader(
            lambda ids: LeadActivity.filter(lead_id__in=ids), "lead_id"
        )
        # Open leads per managing company, among the leads the viewer can see.
        self.open_by_company = DataLoader[int, list[tuple[str, int, int]]](self._open_by_company)
        self._setup: asyncio.Future[CrmSetup] | None = None

    async def setup(self) -> CrmSetup:
        """CRM setup (progress names, stale days), read once per request: the fields
        of every lead of a page ask at once, so they share one pending read."""
        if self._setup is None:
            self._setup = asyncio.ensure_future(get_setup())
        # Shielded: a sibling field's cancellation must not cancel the shared read.
        return await asyncio.shield(self._setup)

    async def _tags(self, ids: Sequence[int]) -> list[list[LeadTag]]:
        links = await LeadTagLink.filter(lead_id__in=set(ids)).values_list("lead_id", "tag_id")
        tags = {t.id: t for t in await LeadTag.filter(id__in={t for _, t in links})}
        found: dict[int, list[LeadTag]] = defaultdict(list)
        for lead_id, tag_id in links:
            found[lead_id].append(tags[tag_id])
        return [sorted(found.get(i, []), key=lambda t: (t.name, t.id)) for i in ids]

    async def _values(self, ids: Sequence[int]) -> list[dict[int, str]]:
        found = await customfields.values_for_objects(CustomFieldEntity.LEAD, ids)
        return [found.get(i, {}) for i in ids]

    async def _open_by_company(self, ids: Sequence[int]) -> list[list[tuple[str, int, int]]]:
        """Per company: (currency, count, estimated cents) of its open leads."""
        rows: list[Any] = (
            await Lead.filter(self.visible_q, company_id__in=set(ids), progress__lt=CLOSED_FROM)
            .annotate(n=Count("id"), cents=Sum("estimated_sale_cents"))
            .group_by("company_id", "currency")
            .values_list("company_id", "currency", "n", "cents")
        )
        found: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for company_id, currency, n, cents in rows:
            found[company_id].append((currency, int(n), int(cents or 0)))
        return [sorted(found.get(i, [])) for i in ids]
