"""Batch loaders for the users domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.models.users import Assignment, Group, Profile
from crm_graphql.services.auth import bits_for_users
from crm_graphql.services.listing import SortKey, count_per_parent, fetch_per_parent

ASSIGNMENT_ORDER = [SortKey("id")]


async def _by_id(model: Any, ids: Sequence[int]) -> list[Any]:
    rows = {row.id: row for row in await model.filter(id__in=set(ids))}
    return [rows.get(i) for i in ids]


async def _user_bits(user_ids: Sequence[int]) -> list[frozenset[str]]:
    found = await bits_for_users(user_ids)
    return [found.get(uid, frozenset()) for uid in user_ids]


class UserLoaders:
    def __init__(self) -> None:
        self.profile = DataLoader[int, Profile | None](lambda ids: _by_id(Profile, ids))
        self.group = DataLoader[int, Group | None](lambda ids: _by_id(Group, ids))
        self.bits = DataLoader[int, frozenset[str]](_user_bits)
        self.assignment_count = DataLoader[int, int](self._assignment_counts)
        # Keyed by (user id, limit): one statement per distinct limit in the request.
        self.assignments = DataLoader[tuple[int, int], list[Assignment]](self._assignments)

    async def _assignment_counts(self, user_ids: Sequence[int]) -> list[int]:
        counts = await count_per_parent(Assignment.filter(user_id__in=set(user_ids)), "user_id")
        return [counts.get(uid, 0) for uid in user_ids]

    async def _assignments(self, keys: Sequence[tuple[int, int]]) -> list[list[Assignment]]:
        by_limit: dict[int, set[int]] = defaultdict(set)
        for user_id, limit in keys:
            by_limit[limit].add(user_id)
        found: dict[tuple[int, int], list[Assignment]] = {}
        for limit, user_ids in by_limit.items():
            rows = await fetch_per_parent(
                Assignment.filter(user_id__in=user_ids), "user_id", ASSIGNMENT_ORDER, limit
            )
            for user_id in user_ids:
                found[(user_id, limit)] = rows.get(user_id, [])
        return [found[key] for key in keys]
