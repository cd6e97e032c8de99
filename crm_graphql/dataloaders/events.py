"""Batch loaders of record history (issue 16): the events of many objects of one kind
in one windowed statement per page size, newest first, and their counts. The objects
are ones the viewer already sees (the field sits on them), so every event is shown."""

from __future__ import annotations

from typing import Any

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.dataloaders.companies import _count_loader, _per_parent_loader
from crm_graphql.models.events import Event, EventObjectType
from crm_graphql.services.listing import SortKey

HISTORY_ORDER = [SortKey("id", descending=True)]


def _events_of(object_type: EventObjectType) -> Any:
    return lambda ids: Event.filter(object_type=str(object_type), object_id__in=list(ids))


class EventLoaders:
    def __init__(self) -> None:
        self.pages: dict[EventObjectType, DataLoader[tuple[int, int], list[Any]]] = {}
        self.counts: dict[EventObjectType, DataLoader[int, int]] = {}
        for kind in EventObjectType:
            self.pages[kind] = _per_parent_loader(_events_of(kind), "object_id", HISTORY_ORDER)
            self.counts[kind] = _count_loader(_events_of(kind), "object_id")
