"""Input objects as the client sent them: which attributes are given (strawberry's
UNSET is not), at any level of `and`, `or` and `not`."""

from __future__ import annotations

import dataclasses
from typing import Any


def is_set(value: Any) -> bool:
    # strawberry.UNSET is falsy-ish but not None; treat both as "not given".
    return value is not None and type(value).__name__ != "UnsetType"


def has_condition(flt: Any, *names: str) -> bool:
    """Whether the filter has a condition on any of these attributes, at any level of
    `and`, `or` and `not` (lists that hide rows by default show them when asked)."""
    if not is_set(flt):
        return False
    if any(is_set(getattr(flt, name, None)) for name in names):
        return True
    for name in ("and_", "or_"):
        subs = getattr(flt, name, None)
        if isinstance(subs, list) and any(has_condition(s, *names) for s in subs):
            return True
    return has_condition(getattr(flt, "not_", None), *names)


def order_pairs(order_by: Any) -> list[tuple[str, bool]]:
    """(column, descending) pairs from `[XOrder!]` inputs whose field enum values are columns."""
    return [(o.field.value, o.direction.value == "DESC") for o in order_by or []]


def input_fields(obj: Any) -> dict[str, Any]:
    """The attributes a client actually sent on an input object."""
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if type(getattr(obj, f.name)).__name__ != "UnsetType"
    }
