"""Duplicate-matching keys (issue 18): columns derived from a row's own values (a name
without case or accents, a phone's digits, a website's domain), written with the row so
the database finds duplicates with an index instead of reading every row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


class MatchKeys(Model):
    """A model with key columns: `KEYS` maps each key column to its source column and
    the function of `crm_graphql/values.py` that computes it. Every way rows are written
    fills them: `save()` (create and update), `services.mutations.save_versioned` and the
    raw INSERT/UPDATE of imports (`keys_for`)."""

    KEYS: ClassVar[dict[str, tuple[str, Callable[[str | None], str]]]] = {}

    class Meta:
        abstract = True

    @classmethod
    def keys_for(cls, values: dict[str, Any]) -> dict[str, str]:
        """The key columns whose source is among `values`, computed from it."""
        found: dict[str, str] = {}
        for key, (source, compute) in cls.KEYS.items():
            if source in values:
                limit = cls._meta.fields_map[key].max_length  # type: ignore[attr-defined]
                found[key] = compute(values[source])[:limit]
        return found

    def fill_keys(self) -> None:
        """Set the key columns from the current values."""
        sources = {source: getattr(self, source) for source, _ in self.KEYS.values()}
        for key, value in self.keys_for(sources).items():
            setattr(self, key, value)

    async def save(
        self,
        using_db: BaseDBAsyncClient | None = None,
        update_fields: Iterable[str] | None = None,
        force_create: bool = False,
        force_update: bool = False,
    ) -> None:
        self.fill_keys()
        if update_fields is not None:
            named = list(update_fields)
            named += [k for k, (source, _) in self.KEYS.items() if source in named]
            update_fields = named
        await super().save(using_db, update_fields, force_create, force_update)
