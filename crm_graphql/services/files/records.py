"""File rows: storing an attachment (row, bytes and audit entry together) and deleting
files with their bytes. The caller has checked the viewer may change the owner."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.files import FileBlob, FileOwner, StoredFile
from crm_graphql.models.users import User
from crm_graphql.services import audit, events
from crm_graphql.services.files.names import (
    MAX_DESCRIPTION_LENGTH,
    new_stored_name,
    normalize_content_type,
    path_of,
    sanitize_name,
    upload_too_large,
)
from crm_graphql.services.files.storage import TooLarge, write_bytes
from crm_graphql.services.files.transactions import require_pending
from crm_graphql.settings import Settings, settings


async def store(
    owner_kind: FileOwner,
    owner_id: int,
    company_id: int | None,
    source: Any,
    original_name: str | None,
    content_type: str | None,
    description: str | None,
    uploader: User | None,
    *,
    generated: bool = False,
    config: Settings | None = None,
    request_id: str = "",
) -> StoredFile:
    """Store an attachment of an object the caller has checked the viewer may change.

    `source` is bytes, a blocking file-like object, an async reader (`await read(n)`,
    e.g. Starlette's UploadFile) or an async iterable of bytes. Runs inside
    `file_transaction()`/`atomic()`. Over `max_upload_bytes`: FieldError(file,
    TOO_LARGE) and nothing written."""
    require_pending()
    config = config or settings
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise FieldError(
            "description", ErrorCode.TOO_LARGE, f"At most {MAX_DESCRIPTION_LENGTH} characters."
        )
    limit = config.limits.max_upload_bytes
    stored_name = new_stored_name()
    try:
        size, sha = await write_bytes(source, stored_name, config)
    except TooLarge:
        raise FieldError("file", ErrorCode.TOO_LARGE, upload_too_large(limit)) from None
    stored = await StoredFile.create(
        generated=generated,
        owner_kind=owner_kind,
        owner_id=owner_id,
        company_id=company_id,
        original_name=sanitize_name(original_name),
        stored_name=stored_name,
        content_type=normalize_content_type(content_type),
        size=size,
        sha256=sha,
        description=description,
        uploader=uploader,
    )
    snapshot = audit.snapshot(stored)
    await audit.record(uploader, audit.CREATE, "File", stored.id, snapshot, request_id)
    await events.record(
        None,
        EventObjectType.FILE,
        stored.id,
        EventAction.CREATE,
        events.created(snapshot),
        uploader.id if uploader else None,
        company_id,
        scope=_scope(stored),
    )
    return stored


async def forget_bytes(stored_names: list[str], config: Settings) -> None:
    """Remove bytes of deleted rows from both stores: blobs in the transaction, files on
    disk once it commits."""
    pending = require_pending()
    if stored_names:
        await FileBlob.filter(stored_name__in=stored_names).delete()
        pending.removed.extend(path_of(name, config) for name in stored_names)


async def delete(
    file: StoredFile,
    actor: User | None,
    *,
    config: Settings | None = None,
    request_id: str = "",
) -> None:
    """Delete the row now and the bytes with it (on disk: once the transaction
    commits; a missing file is fine). Runs inside `file_transaction()`/`atomic()`."""
    require_pending()
    await audit.record(actor, audit.DELETE, "File", file.id, audit.snapshot(file), request_id)
    await events.record(
        None,
        EventObjectType.FILE,
        file.id,
        EventAction.DELETE,
        {},
        actor.id if actor else None,
        file.company_id,
        scope=_scope(file),
    )
    await file.delete()
    await forget_bytes([file.stored_name], config or settings)


async def delete_for_owners(
    owner_kind: FileOwner,
    owner_ids: list[int],
    actor: User | None,
    *,
    config: Settings | None = None,
    request_id: str = "",
) -> int:
    """Delete every file of these owners (for domains deleting the owners). Runs inside
    `file_transaction()`/`atomic()`; returns how many were deleted."""
    require_pending()
    rows = await StoredFile.filter(owner_kind=owner_kind, owner_id__in=owner_ids)
    for row in rows:
        await audit.record(actor, audit.DELETE, "File", row.id, audit.snapshot(row), request_id)
    await events.record_deletions(
        None,
        EventObjectType.FILE,
        [(row.id, row.company_id) for row in rows],
        actor.id if actor else None,
    )
    if rows:
        await StoredFile.filter(id__in=[row.id for row in rows]).delete()
        await forget_bytes([row.stored_name for row in rows], config or settings)
    return len(rows)


def _scope(file: StoredFile) -> dict[str, Any]:
    """What a file event says of the file's owner (a file is seen through its owner)."""
    return {"ownerKind": str(file.owner_kind), "ownerId": file.owner_id}
