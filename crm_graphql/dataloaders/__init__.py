"""Per-request, set-based fetching. One `Loaders` object is built per request, so
nothing cached here outlives the request or leaks between viewers."""

from __future__ import annotations

from functools import cached_property

from crm_graphql.dataloaders.users import UserLoaders


class Loaders:
    @cached_property
    def users(self) -> UserLoaders:
        return UserLoaders()
