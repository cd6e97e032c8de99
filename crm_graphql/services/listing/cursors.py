"""Keyset pagination's pieces: sort keys, opaque cursors tagged with their ordering
(checked against the column types when decoded) and the condition for the rows after
a cursor."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from tortoise import fields as tfields
from tortoise.expressions import Q
from tortoise.models import Model

from crm_graphql.services.audit import json_value
from crm_graphql.services.listing.specs import ListError


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: a non-null column of the model (keyset needs no NULLs)."""

    column: str
    descending: bool = False


def sort_keys(
    order: Sequence[tuple[str, bool]] | None, default: Sequence[SortKey]
) -> list[SortKey]:
    """The requested keys (or the default), always ending with the id tie-breaker."""
    keys = [SortKey(c, d) for c, d in order] if order else list(default)
    seen: set[str] = set()
    unique: list[SortKey] = []
    for key in keys:
        if key.column not in seen:
            seen.add(key.column)
            unique.append(key)
    if not any(k.column == "id" for k in unique):
        unique.append(SortKey("id", unique[-1].descending if unique else False))
    return unique


def _ordering_tag(keys: Sequence[SortKey]) -> str:
    """A short fingerprint of the ordering, so a cursor only works with the ordering
    (columns and directions) it was made for."""
    spec = ",".join(("-" if k.descending else "") + k.column for k in keys)
    return hashlib.blake2s(spec.encode(), digest_size=4).hexdigest()


def encode_cursor(row: Model, keys: Sequence[SortKey]) -> str:
    """The opaque cursor of `row`: its sort values, tagged with the ordering."""
    return encode_cursor_values([json_value(getattr(row, k.column)) for k in keys], keys)


def encode_cursor_values(values: Sequence[Any], keys: Sequence[SortKey]) -> str:
    """The cursor of a row whose sort values, in JSON form (`json_value`), are `values`
    (the compiled read path reads them as JSON from the database)."""
    payload = [_ordering_tag(keys), *values]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_value(model: type[Model], column: str, raw: Any) -> Any:
    """A cursor value checked against the column's type, so no crafted cursor reaches
    the database with a value it would reject (or silently compare as another type)."""
    field = model._meta.fields_map.get(column)
    if raw is None:
        raise ListError("Cursor holds an empty sort value.")
    if isinstance(field, tfields.DatetimeField):
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ListError("The cursor is not valid.")
        return value.astimezone(UTC)
    if isinstance(field, tfields.DateField):
        return date.fromisoformat(raw)
    if isinstance(field, tfields.DecimalField):
        if not isinstance(raw, str | int):
            raise ListError("The cursor is not valid.")
        try:
            return Decimal(raw)
        except ArithmeticError:
            raise ListError("The cursor is not valid.") from None
    if isinstance(field, tfields.BooleanField):
        if not isinstance(raw, bool):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.FloatField):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.IntField | tfields.BigIntField | tfields.SmallIntField):
        constraints = getattr(field, "constraints", {}) or {}
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int)
            or raw < constraints.get("ge", -(2**63))
            or raw > constraints.get("le", 2**63 - 1)
        ):
            raise ListError("The cursor is not valid.")
        return raw
    if isinstance(field, tfields.CharField | tfields.TextField):
        if not isinstance(raw, str) or "\x00" in raw:
            raise ListError("The cursor is not valid.")
        return raw
    if field is None:
        # A computed sort key (an annotation, e.g. a company's billing in cents): integer.
        if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) >= 2**63:
            raise ListError("The cursor is not valid.")
        return raw
    return raw


def decode_cursor(model: type[Model], cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort values of a cursor made by `encode_cursor` for the same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise ListError("The cursor is not valid.") from None
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
        raise ListError("The cursor is not valid.")
    tag, values = payload[0], payload[1:]
    if tag != _ordering_tag(keys) or len(values) != len(keys):
        raise ListError("The cursor does not match this ordering.")
    try:
        return [_decode_value(model, k.column, v) for k, v in zip(keys, values, strict=True)]
    except ListError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        # OverflowError: a time at the calendar's ends, in UTC beyond year 1 or 9999
        raise ListError("The cursor is not valid.") from exc


def keyset_q(keys: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in the order `keys`."""
    branches: list[Q] = []
    for i, key in enumerate(keys):
        equal = {keys[j].column: values[j] for j in range(i)}
        op = "lt" if key.descending else "gt"
        branches.append(Q(**equal, **{f"{key.column}__{op}": values[i]}))
    return Q(*branches, join_type="OR")


def order_args(keys: Sequence[SortKey]) -> list[str]:
    return [("-" if k.descending else "") + k.column for k in keys]
