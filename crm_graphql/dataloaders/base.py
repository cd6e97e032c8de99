"""strawberry's DataLoader, made safe for shared keys.

Two resolvers loading the same key await one shared future. When graphql-core cancels
one of them (a sibling's error nulls their parent), cancelling the task would cancel
the shared future too, and the other resolver would get a CancelledError that escapes
execution as a server error. Each caller therefore awaits a shield of the future."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from strawberry.dataloader import DataLoader as StrawberryDataLoader

K = TypeVar("K")
T = TypeVar("T")


class DataLoader(StrawberryDataLoader[K, T]):
    def load(self, key: K) -> Awaitable[T]:
        return asyncio.shield(super().load(key))
