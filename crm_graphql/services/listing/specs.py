"""What a domain declares for its list filters: a `FilterSpec` mapping filter attributes
to lookup paths, relations (`Relation`) and viewer-dependent conditions
(`ViewerCondition`); and `ListError`, the client's mistake in a filter, order or cursor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q, Subquery


class ListError(ValueError):
    """A filter, order or cursor the client sent cannot be used; the message says why."""


# The ids of the related rows a viewer may see, as a subquery; None: all of them (a
# superadmin; never an empty Q() in an OR). Called with None when there is no viewer.
VisibleIds = Callable[[Any], "Subquery | None"]


@dataclass(frozen=True)
class Relation:
    """A filter attribute that descends into a related entity's filter.

    `visible` guards a relation to rows the viewer may not see (SPEC §2: a filter through
    a relation matches only related rows the viewer may see): conditions under it hold
    only for a visible related row, and a hidden one counts as no related row at all
    (so `isNull: true` matches it), so no filter reveals hidden data."""

    path: str
    spec: FilterSpec
    visible: VisibleIds | None = None


@dataclass(frozen=True)
class ViewerCondition:
    """A filter attribute whose condition depends on the viewer (a relation that is not
    a foreign key, such as an invoice's related contracts): (value, prefix, viewer) -> Q."""

    build: Callable[[Any, str, Any], Q]


# A callable target builds its own condition from the attribute's value (free-text
# search, custom field values): (value, prefix) -> Q.
FilterSpec = dict[str, "str | Relation | ViewerCondition | Callable[[Any, str], Q]"]
