"""Batch loaders for companies, contacts, activities and custom field values. Every
loader that returns companies applies the viewer's visibility in its SQL."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company, CompanyBilling, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldSection
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.services import customfields
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey, count_per_parent, fetch_per_parent

CHILD_ORDER = [SortKey("name"), SortKey("id")]
CONTACT_ORDER = [SortKey("full_name"), SortKey("id")]
ACTIVITY_ORDER = [SortKey("created_at", descending=True), SortKey("id", descending=True)]


async def _by_id(queryset: QuerySet[Any], ids: Sequence[int]) -> list[Any]:
    rows = {row.id: row for row in await queryset.filter(id__in=set(ids))}
    return [rows.get(i) for i in ids]


async def _billing(ids: Sequence[int]) -> list[list[tuple[str, int]]]:
    """Per company: (currency, cents) of its billing, by currency code."""
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    rows = (
        await CompanyBilling.filter(company_id__in=set(ids))
        .order_by("company_id", "currency")
        .values_list("company_id", "currency", "cents")
    )
    for company_id, currency, cents in rows:
        found[company_id].append((currency, int(cents)))
    return [found.get(i, []) for i in ids]


def _per_parent_loader(
    make_queryset: Any, parent_column: str, keys_order: list[SortKey]
) -> DataLoader[tuple[int, int], list[Any]]:
    """Loader keyed by (parent id, limit): one window-function statement per limit."""

    async def load(keys: Sequence[tuple[int, int]]) -> list[list[Any]]:
        by_limit: dict[int, set[int]] = defaultdict(set)
        for parent_id, limit in keys:
            by_limit[limit].add(parent_id)
        found: dict[tuple[int, int], list[Any]] = {}
        for limit, parent_ids in by_limit.items():
            rows = await fetch_per_parent(
                make_queryset(parent_ids), parent_column, keys_order, limit
            )
            for parent_id in parent_ids:
                found[(parent_id, limit)] = rows.get(parent_id, [])
        return [found[key] for key in keys]

    return DataLoader(load)


def _count_loader(make_queryset: Any, parent_column: str) -> DataLoader[int, int]:
    async def load(parent_ids: Sequence[int]) -> list[int]:
        counts = await count_per_parent(make_queryset(set(parent_ids)), parent_column)
        return [counts.get(pid, 0) for pid in parent_ids]

    return DataLoader(load)


class CompanyLoaders:
    def __init__(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        visible = visible_companies_q(viewer) if viewer else Q(id__in=[])
        self.visible_q = visible
        self.company = DataLoader[int, Company | None](
            lambda ids: _by_id(Company.filter(visible), ids)
        )
        self.billing = DataLoader[int, list[tuple[str, int]]](_billing)
        self.role = DataLoader[int, CompanyRole | None](lambda ids: _by_id(CompanyRole.all(), ids))
        self.user = DataLoader[int, User | None](lambda ids: _by_id(User.all(), ids))
        self.contact = DataLoader[int, Contact | None](lambda ids: _by_id(Contact.all(), ids))
        self.children = _per_parent_loader(
            lambda ids: Company.filter(visible, parent_id__in=ids), "parent_id", CHILD_ORDER
        )
        self.child_count = _count_loader(
            lambda ids: Company.filter(visible, parent_id__in=ids), "parent_id"
        )
        self.contacts = _per_parent_loader(
            lambda ids: Contact.filter(company_id__in=ids), "company_id", CONTACT_ORDER
        )
        self.contact_count = _count_loader(
            lambda ids: Contact.filter(company_id__in=ids), "company_id"
        )
        self.company_activities = _per_parent_loader(
            lambda ids: Activity.filter(company_id__in=ids), "company_id", ACTIVITY_ORDER
        )
        self.company_activity_count = _count_loader(
            lambda ids: Activity.filter(company_id__in=ids), "company_id"
        )
        self.contact_activities = _per_parent_loader(
            lambda ids: Activity.filter(contact_id__in=ids), "contact_id", ACTIVITY_ORDER
        )
        self.contact_activity_count = _count_loader(
            lambda ids: Activity.filter(contact_id__in=ids), "contact_id"
        )
        # Fetched once per request: the first caller starts the query and every
        # resolver running concurrently awaits that same task (caching only the result
        # would let all 50 resolvers of a page miss the cache and each run the query,
        # and then load their values one per batch).
        self._sections: asyncio.Task[dict[int, str]] | None = None
        self._definitions: dict[
            tuple[CustomFieldEntity, int | None], asyncio.Task[list[CustomField]]
        ] = {}
        self.company_values = DataLoader[int, dict[int, str]](
            lambda ids: self._values(CustomFieldEntity.COMPANY, ids)
        )
        self.contact_values = DataLoader[int, dict[int, str]](
            lambda ids: self._values(CustomFieldEntity.CONTACT, ids)
        )

    async def definitions(
        self, entity: CustomFieldEntity, owner_id: int | None = None
    ) -> list[CustomField]:
        """Field definitions, fetched once per request."""
        key = (entity, owner_id)
        task = self._definitions.get(key)
        if task is None:
            task = asyncio.ensure_future(customfields.fields_for(entity, owner_id))
            self._definitions[key] = task
        # shielded: one cancelled resolver must not cancel the query the others await
        return await asyncio.shield(task)

    async def section_names(self) -> dict[int, str]:
        """Company custom field section names by id, fetched once per request."""
        if self._sections is None:
            self._sections = asyncio.ensure_future(self._fetch_section_names())
        return await asyncio.shield(self._sections)

    @staticmethod
    async def _fetch_section_names() -> dict[int, str]:
        rows = await CustomFieldSection.all().values("id", "name")
        return {row["id"]: row["name"] for row in rows}

    async def _values(self, entity: CustomFieldEntity, ids: Sequence[int]) -> list[dict[int, str]]:
        found = await customfields.values_for_objects(entity, ids)
        return [found.get(i, {}) for i in ids]
