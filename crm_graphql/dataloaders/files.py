"""Batch loaders for files: per owner kind, the first files of many owners in one
statement and their counts in another, the viewer's file visibility in the SQL."""

from __future__ import annotations

from typing import Any

from crm_graphql.dataloaders.base import DataLoader
from crm_graphql.dataloaders.companies import _count_loader, _per_parent_loader
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.permissions.files import visible_files_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey

FILE_ORDER = [SortKey("created_at", descending=True), SortKey("id", descending=True)]


class FileLoaders:
    def __init__(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        self._pages: dict[FileOwner, DataLoader[tuple[int, int], list[Any]]] = {}
        self._counts: dict[FileOwner, DataLoader[int, int]] = {}

    def _owned(self, kind: FileOwner, owner_ids: Any) -> Any:
        return StoredFile.filter(
            visible_files_q(self.viewer, (kind,)), owner_kind=kind, owner_id__in=owner_ids
        )

    def page(self, kind: FileOwner) -> DataLoader[tuple[int, int], list[Any]]:
        """Keyed by (owner id, limit): files newest first, `limit + 1` per owner."""
        if kind not in self._pages:
            self._pages[kind] = _per_parent_loader(
                lambda ids: self._owned(kind, ids), "owner_id", FILE_ORDER
            )
        return self._pages[kind]

    def count(self, kind: FileOwner) -> DataLoader[int, int]:
        """Keyed by owner id: how many files the viewer can see."""
        if kind not in self._counts:
            self._counts[kind] = _count_loader(lambda ids: self._owned(kind, ids), "owner_id")
        return self._counts[kind]
