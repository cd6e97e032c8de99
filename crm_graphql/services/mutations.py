"""One transaction per mutation: payload errors roll everything back, files included."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise import timezone
from tortoise.exceptions import ValidationError
from tortoise.models import Model

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.matching import MatchKeys
from crm_graphql.services.files.transactions import file_transaction

T = TypeVar("T")


async def unique_name(
    model: type[Model], name: str, exclude_id: int | None = None, limit: int = 100
) -> str:
    """A catalogue entry's name (roles, sections, profiles, groups): stripped, required,
    at most `limit` characters, and not taken by another row."""
    name = name.strip()
    if not name:
        raise FieldError("name", ErrorCode.REQUIRED, "A name is required.")
    if len(name) > limit:
        raise FieldError("name", ErrorCode.TOO_LARGE, f"At most {limit} characters.")
    clash = model.filter(name=name)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        raise FieldError("name", ErrorCode.UNIQUE, "This name is taken.")
    return name


def check_version(obj: Any, data: dict[str, Any], noun: str) -> None:
    """Optimistic concurrency: pop the `version` the client read from `data` and refuse
    the change (STALE) when the object has changed since."""
    version = data.pop("version", None)
    if version is not None and version != obj.version:
        raise FieldError(
            "version",
            ErrorCode.STALE,
            f"The {noun} changed since you read it (version {obj.version}, you sent "
            f"{version}); reload and retry.",
        )


def stale(noun: str) -> FieldError:
    return FieldError(
        "version",
        ErrorCode.STALE,
        f"The {noun} changed while your change was being saved; reload and retry.",
    )


async def save_versioned(obj: Any, noun: str) -> None:
    """Write every column of `obj` and bump its version, but only if the row still has
    the version `obj` was read with: `UPDATE … SET …, version = v + 1 WHERE id = … AND
    version = v`. The database decides the race (on PostgreSQL a concurrent writer waits
    for the row and then finds the version changed), so exactly one of several writers
    that read the same version wins; the others get STALE and their transaction rolls
    back."""
    model = type(obj)
    meta = model._meta
    read_version = obj.version
    if isinstance(obj, MatchKeys):
        obj.fill_keys()
    values: dict[str, Any] = {}
    for name in meta.fields_db_projection:
        if name in (meta.pk_attr, "version"):
            continue
        field = meta.fields_map[name]
        if getattr(field, "auto_now_add", False):
            continue
        if getattr(field, "auto_now", False):
            setattr(obj, name, timezone.now())
        values[name] = getattr(obj, name)
    updated = await model.filter(pk=obj.pk, version=read_version).update(
        **values, version=read_version + 1
    )
    if updated != 1:
        raise stale(noun)
    obj.version = read_version + 1


async def atomic(work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[FieldError]]:
    """Run `work` in a transaction that also covers stored and deleted file bytes.
    A FieldError or PayloadErrors rolls it back and comes back as the error list; any
    other exception propagates (and is masked)."""
    try:
        async with file_transaction():
            return await work(), []
    except PayloadErrors as exc:
        return None, exc.errors
    except FieldError as exc:
        return None, [exc]
    except ValidationError as exc:
        return None, [validation_field_error(exc)]


_LENGTH = re.compile(r"^(?:(\w+): )?Length of '.*' \d+ > (\d+)$", re.DOTALL)
_FIELD = re.compile(r"^(\w+): ")


def validation_field_error(exc: ValidationError) -> FieldError:
    """Tortoise's check of a value against its column (a string over `max_length`,
    met by a lookup before the service's own checks) as the payload error it is,
    naming the field in camelCase, without echoing the value."""
    text = str(exc)
    length = _LENGTH.match(text)
    named = _FIELD.match(text)
    column = (length.group(1) if length else named.group(1) if named else None) or None
    field = _camel(column) if column else None
    if length:
        return FieldError(field, ErrorCode.TOO_LARGE, f"At most {length.group(2)} characters.")
    return FieldError(field, ErrorCode.INVALID, "The value does not fit this field.")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def refuse_nulls(model: type[Model], data: dict[str, Any], *also: str) -> None:
    """Refuse an explicit null sent for a column that cannot hold one (or for one of
    `also`, inputs that are not columns): optional update inputs are nullable in GraphQL
    so they can be left out, but null is not "leave it" and must not reach the database
    as a NOT NULL violation."""
    fields = model._meta.fields_map
    errors = [
        FieldError(
            _camel(name), ErrorCode.REQUIRED, "Cannot be null; leave the field out to keep it."
        )
        for name, value in data.items()
        if value is None and (name in also or (name in fields and not fields[name].null))
    ]
    if errors:
        raise PayloadErrors(errors)
