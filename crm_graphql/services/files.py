"""The file store shared by every domain that takes attachments.

Bytes live under `<data dir>/files/<2-char shard>/<generated name>`: the name is random
(`secrets.token_hex`), never derived from what the client sent; the client's file name
is sanitised metadata only. An upload streams in chunks to a temporary file in the
target directory, computing size and SHA-256 on the way, and is renamed into place
only when complete and within the size limit.

Database rows and bytes change together through `file_transaction` (which
`services.mutations.atomic`, every mutation's transaction, is built on): bytes written
by a transaction that rolls back are removed, and bytes of deleted rows are removed only after the
transaction commits. So a row never points at a missing file, and a failed upload
leaves no file behind. (A crash between the rename and the commit can leave an
unreferenced file; never a row without bytes.)"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from crm_graphql.errors import FieldError
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.users import User
from crm_graphql.services import audit
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.files")
T = TypeVar("T")

CHUNK_SIZE = 64 * 1024
MAX_NAME_LENGTH = 255  # StoredFile.original_name
MAX_DESCRIPTION_LENGTH = 255  # StoredFile.description
DEFAULT_NAME = "file"
OCTET_STREAM = "application/octet-stream"
_STORED_NAME_RE = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
# Invisible characters that reorder or hide text: a name could show "gpj.exe" as "exe.jpg".
_FORMAT_CONTROLS = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)


# ---------------------------------------------------------------------------------------
# Names and paths


def megabytes(size: int) -> str:
    """A byte count as people read upload limits: "20 MB", "1.5 MB", "0.00095 MB"."""
    value = size / 1_048_576
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text if text != '0' else f'{value:.2g}'} MB"


def upload_too_large(limit: int) -> str:
    """The one message for an upload over CRM_MAX_UPLOAD_BYTES (code TOO_LARGE), from the
    resolver or from the request middleware."""
    return (
        f"The file is over the upload limit of {megabytes(limit)} ({limit} bytes, "
        "CRM_MAX_UPLOAD_BYTES); nothing was stored."
    )


def sanitize_name(raw: str | None) -> str:
    """The client's file name made safe to store and to show: the last path component
    (both `/` and `\\` separate), without control or invisible formatting characters,
    trimmed, at most 255 characters (keeping the extension), "file" when nothing is
    left. It is metadata: it never becomes part of a path on disk."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        c
        for c in name
        if c not in _FORMAT_CONTROLS and unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn")
    )
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name or DEFAULT_NAME


def normalize_content_type(raw: str | None) -> str:
    """`type/subtype` in lower case without parameters, or application/octet-stream."""
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _CONTENT_TYPE_RE.match(value) else OCTET_STREAM


def files_root(config: Settings | None = None) -> Path:
    return (config or settings).data_dir / "files"


def path_of(stored_name: str, config: Settings | None = None) -> Path:
    """Where the bytes of a stored name live; refuses anything but a generated name."""
    if not _STORED_NAME_RE.match(stored_name):
        raise ValueError(f"not a generated file name: {stored_name!r}")
    return files_root(config) / stored_name[:2] / stored_name


def download_path(file_id: int) -> str:
    """The download endpoint's path for a file (see endpoints/files.py)."""
    return f"/files/{int(file_id)}"


def new_stored_name() -> str:
    return secrets.token_hex(16)


# ---------------------------------------------------------------------------------------
# Transactions that cover rows and bytes


@dataclass
class _Pending:
    created: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


_pending: ContextVar[_Pending | None] = ContextVar("crm_files_pending", default=None)


def _unlink_quietly(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove %s", path)


def _in_db_transaction() -> bool:
    return isinstance(connections.get("default"), TransactionalDBClient)


@asynccontextmanager
async def file_transaction() -> AsyncIterator[None]:
    """A database transaction that also covers the bytes `store` writes and `delete`
    removes. Nested, it is a savepoint whose file changes join the outer one's."""
    outer = _pending.get()
    if outer is None and _in_db_transaction():
        raise RuntimeError(
            "file changes need files.file_transaction (or mutations.atomic) as the outermost "
            "transaction: an enclosing transaction could roll back after the bytes change"
        )
    pending = _Pending()
    token = _pending.set(pending)
    try:
        async with in_transaction():
            yield
    except BaseException:
        await asyncio.to_thread(_unlink_quietly, pending.created)
        raise
    else:
        if outer is not None:
            outer.created.extend(pending.created)
            outer.removed.extend(pending.removed)
        else:
            await asyncio.to_thread(_unlink_quietly, pending.removed)
    finally:
        _pending.reset(token)


def _require_pending() -> _Pending:
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("call inside files.file_transaction() or mutations.atomic()")
    return pending


# ---------------------------------------------------------------------------------------
# Writing


class _TooLarge(Exception):
    pass


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_temp(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=directory)
    os.close(fd)
    return Path(name)


def _finish(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _copy_sync(reader: Any, temp: Path, limit: int) -> tuple[int, str]:
    """Copy a blocking reader into `temp`, in a worker thread that owns the file (a
    cancelled request cannot close it under the thread's feet)."""
    digest = hashlib.sha256()
    size = 0
    with temp.open("wb") as out:
        while chunk := reader.read(CHUNK_SIZE):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            digest.update(chunk)
            out.write(chunk)
        _finish(out)
    return size, digest.hexdigest()


async def _copy_async(source: Any, temp: Path, limit: int) -> tuple[int, str]:
    """Copy an async reader (`await read(n)`) or an async iterable of bytes into `temp`."""
    digest = hashlib.sha256()
    size = 0

    async def chunks() -> AsyncIterator[bytes]:
        if hasattr(source, "read"):
            while chunk := await source.read(CHUNK_SIZE):
                yield chunk
        else:
            async for chunk in source:
                yield chunk

    out = await asyncio.to_thread(temp.open, "wb")
    try:
        async for chunk in chunks():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(_finish, out)
    finally:
        # Synchronous on purpose: it must happen even if the task is cancelled again;
        # the buffered writer's lock makes it wait for a write still in a thread.
        out.close()
    return size, digest.hexdigest()


async def _write(source: Any, target: Path, limit: int) -> tuple[int, str]:
    """Stream `source` to a temporary file beside `target`, then rename it into place.
    Nothing is left behind on failure (too large, I/O error, cancellation)."""
    temp = await asyncio.to_thread(_make_temp, target.parent)
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            size, sha = await asyncio.to_thread(_copy_sync, io.BytesIO(source), temp, limit)
        elif hasattr(source, "file") and hasattr(source.file, "read"):
            # starlette.datastructures.UploadFile: read its spooled file in one thread
            await asyncio.to_thread(source.file.seek, 0)
            size, sha = await asyncio.to_thread(_copy_sync, source.file, temp, limit)
        elif hasattr(source, "read") and not inspect.iscoroutinefunction(source.read):
            size, sha = await asyncio.to_thread(_copy_sync, source, temp, limit)
        else:
            size, sha = await _copy_async(source, temp, limit)
        await asyncio.to_thread(os.replace, temp, target)
        await asyncio.to_thread(_fsync_directory, target.parent)
    except BaseException:
        _unlink_quietly([temp])
        raise
    return size, sha


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
    pending = _require_pending()
    config = config or settings
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise FieldError(
            "description", "TOO_LARGE", f"At most {MAX_DESCRIPTION_LENGTH} characters."
        )
    limit = config.limits.max_upload_bytes
    stored_name = new_stored_name()
    target = path_of(stored_name, config)
    try:
        size, sha = await _write(source, target, limit)
    except _TooLarge:
        raise FieldError("file", "TOO_LARGE", upload_too_large(limit)) from None
    # From here on the transaction owns the bytes: a rollback removes them.
    pending.created.append(target)
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
    await audit.record(
        uploader, audit.CREATE, "File", stored.id, audit.snapshot(stored), request_id
    )
    return stored


# ---------------------------------------------------------------------------------------
# Reading and deleting


def open_for_download(file: StoredFile, config: Settings | None = None) -> Path:
    """The path of the file's bytes; FileNotFoundError when they are missing."""
    path = path_of(file.stored_name, config)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    return path


async def delete(
    file: StoredFile,
    actor: User | None,
    *,
    config: Settings | None = None,
    request_id: str = "",
) -> None:
    """Delete the row now and the bytes once the transaction commits (a missing file
    is fine). Runs inside `file_transaction()`/`atomic()`."""
    pending = _require_pending()
    await audit.record(actor, audit.DELETE, "File", file.id, audit.snapshot(file), request_id)
    await file.delete()
    pending.removed.append(path_of(file.stored_name, config))


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
    pending = _require_pending()
    rows = await StoredFile.filter(owner_kind=owner_kind, owner_id__in=owner_ids)
    for row in rows:
        await audit.record(actor, audit.DELETE, "File", row.id, audit.snapshot(row), request_id)
    if rows:
        await StoredFile.filter(id__in=[row.id for row in rows]).delete()
        pending.removed.extend(path_of(row.stored_name, config) for row in rows)
    return len(rows)
