"""One transaction per mutation: payload errors roll everything back, files included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise import timezone
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


def stale(noun: str) -> FieldError:
    return FieldError(
        "version",
        "STALE",
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
