"""One transaction per mutation: payload errors roll everything back, files included."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.exceptions import ValidationError
from tortoise.models import Model

from crm_graphql.errors import FieldError, PayloadErrors
from crm_graphql.services.files import file_transaction

T = TypeVar("T")


async def unique_name(
    model: type[Model], name: str, exclude_id: int | None = None, limit: int = 100
) -> str:
    """A catalogue entry's name (roles, sections, profiles, groups): stripped, required,
    at most `limit` characters, and not taken by another row."""
    name = name.strip()
    if not name:
        raise FieldError("name", "REQUIRED", "A name is required.")
    if len(name) > limit:
        raise FieldError("name", "TOO_LARGE", f"At most {limit} characters.")
    clash = model.filter(name=name)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        raise FieldError("name", "UNIQUE", "This name is taken.")
    return name


def check_version(obj: Any, data: dict[str, Any], noun: str) -> None:
    """Optimistic concurrency: pop the `version` the client read from `data` and refuse
    the change (STALE) when the object has changed since."""
    version = data.pop("version", None)
    if version is not None and version != obj.version:
        raise FieldError(
            "version",
            "STALE",
            f"The {noun} changed since you read it (version {obj.version}, you sent "
            f"{version}); reload and retry.",
        )


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
        return FieldError(field, "TOO_LARGE", f"At most {length.group(2)} characters.")
    return FieldError(field, "INVALID", "The value does not fit this field.")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
