"""The file store shared by every domain that takes attachments.

Two stores for the bytes (setting `CRM_FILE_STORE`, see README and docs/deployment.md):
- `filesystem` (the SQLite default): `<data dir>/files/<2-char shard>/<generated name>`.
  An upload streams in chunks to a temporary file in the target directory, computing
  size and SHA-256 on the way, and is renamed into place only when complete and within
  the size limit. Only instances sharing that directory see the bytes.
- `database` (the PostgreSQL default): rows of `file_blobs`, 1 MiB chunks, written in
  the same transaction as the file's row, so every instance on the database sees them
  and a rollback leaves nothing. Files keep the upload limit (`CRM_MAX_UPLOAD_BYTES`).
Reads look in the configured store first, then the other one, so `crm-graphql files
move` can run while the servers do.

The name is random (`secrets.token_hex`), never derived from what the client sent; the
client's file name is sanitised metadata only.

Database rows and bytes change together through `file_transaction` (which
`services.mutations.atomic`, every mutation's transaction, is built on): bytes on disk
are written before the commit and removed only when the transaction really rolled
back; bytes of deleted rows are removed only after it committed. An error after the
commit (the connection dropped while being released) does not undo a success. When
the connection breaks during COMMIT, PostgreSQL is asked (`txid_status`) whether the
transaction committed; if it cannot say, the bytes stay and the client gets
OUTCOME_UNKNOWN. `crm-graphql files sweep` removes bytes no row points at (older than
an hour) and reports rows whose bytes are missing (re-rendering invoice PDFs)."""

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from crm_graphql.errors import FieldError, OutcomeUnknown, WriteNotApplied
from crm_graphql.models.files import FileBlob, FileOwner, StoredFile
from crm_graphql.models.users import User
from crm_graphql.services import audit
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.files")
T = TypeVar("T")

CHUNK_SIZE = 64 * 1024
# One `file_blobs` row holds at most this much (a read streams row by row).
BLOB_CHUNK = 1_048_576
FILESYSTEM = "filesystem"
DATABASE = "database"
STORES = (FILESYSTEM, DATABASE)
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
    # Run once the outermost transaction has committed (e.g. wake the PDF queue).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Awaited once it has committed (e.g. wait a bounded time for an invoice's PDF).
    after_commit_async: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_pending: ContextVar[_Pending | None] = ContextVar("crm_files_pending", default=None)


def _unlink_quietly(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove %s", path)


def _in_db_transaction() -> bool:
    return isinstance(connections.get("default"), TransactionalDBClient)


def on_commit(callback: Callable[[], None]) -> None:
    """Call `callback` once the current file transaction has committed (at once when
    there is none); never when it rolls back."""
    pending = _pending.get()
    if pending is None:
        callback()
    else:
        pending.after_commit.append(callback)


def on_commit_async(callback: Callable[[], Awaitable[None]]) -> None:
    """Await `callback()` once the outermost file transaction has committed (errors are
    logged, not raised: the change is saved). Outside a transaction: ignored."""
    pending = _pending.get()
    if pending is not None:
        pending.after_commit_async.append(callback)


def _run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("an after-commit callback failed")


def _connection_lost(exc: BaseException) -> bool:
    """The error (or one it came from) says the database connection broke."""
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    kinds = (
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        ConnectionError,
    )
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _transaction_id(tx: Any) -> int | None:
    """PostgreSQL's id of the running transaction, to ask later whether it committed."""
    if tx.capabilities.dialect != "postgres":
        return None
    rows = await tx.execute_query_dict("SELECT txid_current() AS xid")
    return int(rows[0]["xid"])


async def _commit_status(xid: int) -> str | None:
    """'committed', 'aborted' or None (unknown) for a transaction whose COMMIT broke,
    asked on a fresh pooled connection (a few tries: the server may be restarting)."""
    for attempt in range(3):
        try:
            # Its own deadline: the request's may be what ran out.
            with deadline_scope(5, inherit=False):
                rows = await connections.get("default").execute_query_dict(
                    "SELECT txid_status($1) AS status", [xid]
                )
            status = rows[0]["status"] if rows else None
            if status in ("committed", "aborted"):
                return str(status)
            if status is None:  # too old to know: not ours
                return None
        except Exception:
            log.warning("could not ask whether transaction %s committed", xid, exc_info=True)
        await asyncio.sleep(0.2 * (attempt + 1))
    return None


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
    reached_commit = False
    tx: Any = None
    xid: int | None = None
    try:
        try:
            async with in_transaction() as tx:
                yield
                if outer is None:
                    xid = await _transaction_id(tx)
                reached_commit = True
        except BaseException as exc:
            if not reached_commit or outer is not None:
                # The work (or a savepoint) failed before COMMIT: rolled back.
                await asyncio.to_thread(_unlink_quietly, pending.created)
                if outer is None and isinstance(exc, Exception) and _connection_lost(exc):
                    # Certainly not saved, and worth a retry.
                    raise WriteNotApplied(
                        "The database connection broke while saving; nothing was saved. Retry."
                    ) from exc
                raise
            # The error came from COMMIT or from releasing the connection after it.
            if getattr(tx, "_finalized", False):
                # COMMIT returned: the change is saved.
                if not isinstance(exc, Exception):
                    # Cancelled while the connection was released: finish the file side
                    # of the commit, then let the cancellation through.
                    _unlink_quietly(pending.removed)
                    _run_callbacks(pending.after_commit)
                    raise
                log.warning("error after commit ignored: %r", exc)
            elif not isinstance(exc, Exception):
                # Cancelled during COMMIT: it may have committed. Keep the bytes (the
                # sweeper removes them if no row points at them).
                raise
            elif xid is None or not _connection_lost(exc):
                # SQLite, or the server refused the COMMIT: nothing was committed.
                await asyncio.to_thread(_unlink_quietly, pending.created)
                raise
            else:
                status = await _commit_status(xid)
                if status == "aborted":
                    await asyncio.to_thread(_unlink_quietly, pending.created)
                    raise WriteNotApplied(
                        "The database connection broke while saving; nothing was saved. Retry."
                    ) from exc
                if status != "committed":
                    # Keep the bytes: the rows may exist (the sweeper tidies up otherwise).
                    raise OutcomeUnknown(
                        "The database connection broke while saving, and whether the "
                        "change was saved is unknown: check before retrying."
                    ) from exc
                log.warning("COMMIT broke but transaction %s committed: a success", xid)
    finally:
        _pending.reset(token)
    # Committed (or, nested, released into the outer transaction).
    if outer is not None:
        outer.created.extend(pending.created)
        outer.removed.extend(pending.removed)
        outer.after_commit.extend(pending.after_commit)
        outer.after_commit_async.extend(pending.after_commit_async)
        return
    await asyncio.to_thread(_unlink_quietly, pending.removed)
    _run_callbacks(pending.after_commit)
    for waiter in pending.after_commit_async:
        try:
            await waiter()
        except Exception:
            log.exception("an after-commit callback failed")


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


async def _chunks(source: Any) -> AsyncIterator[bytes]:
    """The bytes of any `store` source, a chunk at a time (blocking reads in a thread)."""
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for offset in range(0, len(view), BLOB_CHUNK):
            yield bytes(view[offset : offset + BLOB_CHUNK])
        return
    if hasattr(source, "file") and hasattr(source.file, "read"):
        await asyncio.to_thread(source.file.seek, 0)
        source = source.file
    if hasattr(source, "read") and not inspect.iscoroutinefunction(source.read):
        while chunk := await asyncio.to_thread(source.read, BLOB_CHUNK):
            yield chunk
    elif hasattr(source, "read"):
        while chunk := await source.read(BLOB_CHUNK):
            yield chunk
    else:
        async for chunk in source:
            yield chunk


async def _write_blobs(source: Any, stored_name: str, limit: int) -> tuple[int, str]:
    """Write `source` as `file_blobs` rows in a savepoint of the caller's transaction
    (so a file over the limit leaves no rows even if the caller carries on)."""
    digest = hashlib.sha256()
    size = 0
    seq = 0
    buffer = bytearray()
    async with in_transaction():
        async for chunk in _chunks(source):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            digest.update(chunk)
            buffer += chunk
            while len(buffer) >= BLOB_CHUNK:
                await FileBlob.create(
                    stored_name=stored_name, seq=seq, data=bytes(buffer[:BLOB_CHUNK])
                )
                del buffer[:BLOB_CHUNK]
                seq += 1
        if buffer or seq == 0:
            await FileBlob.create(stored_name=stored_name, seq=seq, data=bytes(buffer))
    return size, digest.hexdigest()


async def write_bytes(
    source: Any,
    stored_name: str,
    config: Settings | None = None,
    *,
    store_kind: str = "",
    limit: int | None = None,
) -> tuple[int, str]:
    """Write the bytes of a new stored name to the store (`store_kind`, default the
    configured one); (size, sha256). Inside a file transaction: the transaction owns
    them from here (a rollback removes them)."""
    config = config or settings
    pending = _require_pending()
    limit = config.limits.max_upload_bytes if limit is None else limit
    if (store_kind or config.file_store_kind) == DATABASE:
        return await _write_blobs(source, stored_name, limit)
    target = path_of(stored_name, config)
    size, sha = await _write(source, target, limit)
    pending.created.append(target)
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
    _require_pending()
    config = config or settings
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise FieldError(
            "description", "TOO_LARGE", f"At most {MAX_DESCRIPTION_LENGTH} characters."
        )
    limit = config.limits.max_upload_bytes
    stored_name = new_stored_name()
    try:
        size, sha = await write_bytes(source, stored_name, config)
    except _TooLarge:
        raise FieldError("file", "TOO_LARGE", upload_too_large(limit)) from None
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
    """The path of the file's bytes in the filesystem store; FileNotFoundError when
    they are not there (see `open_bytes` for either store)."""
    path = path_of(file.stored_name, config)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    return path


@dataclass
class Opened:
    """Where a file's bytes were found: a path on disk, or the database's chunks."""

    stored_name: str
    path: Path | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.path is not None:
            handle = await asyncio.to_thread(self.path.open, "rb")
            try:
                while chunk := await asyncio.to_thread(handle.read, BLOB_CHUNK):
                    yield chunk
            finally:
                handle.close()
            return
        seq = -1
        while True:
            # One chunk per statement: a large file never sits in memory whole.
            row = (
                await FileBlob.filter(stored_name=self.stored_name, seq__gt=seq)
                .order_by("seq")
                .first()
                .values("seq", "data")
            )
            if row is None:
                return
            seq = row["seq"]
            yield bytes(row["data"])

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


async def _on_disk(stored_name: str, config: Settings) -> Path | None:
    path = path_of(stored_name, config)
    return path if await asyncio.to_thread(path.is_file) else None


async def _in_database(stored_name: str) -> bool:
    return await FileBlob.filter(stored_name=stored_name, seq=0).exists()


async def open_bytes(file: StoredFile, config: Settings | None = None) -> Opened:
    """The file's bytes, looked for in the configured store first, then in the other
    (files being moved); FileNotFoundError when neither has them."""
    config = config or settings
    name = file.stored_name
    path_of(name, config)  # refuses anything but a generated name
    order = (DATABASE, FILESYSTEM) if config.file_store_kind == DATABASE else STORES
    for kind in order:
        if kind == DATABASE and await _in_database(name):
            return Opened(name)
        if kind == FILESYSTEM and (path := await _on_disk(name, config)) is not None:
            return Opened(name, path)
    raise FileNotFoundError(name)


async def read_bytes(file: StoredFile, config: Settings | None = None) -> bytes:
    """All the bytes of a file (for small files: a logo, a mail attachment)."""
    return await (await open_bytes(file, config)).read()


async def _forget(stored_names: list[str], config: Settings) -> None:
    """Remove bytes of deleted rows from both stores: blobs in the transaction, files on
    disk once it commits."""
    pending = _require_pending()
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
    _require_pending()
    await audit.record(actor, audit.DELETE, "File", file.id, audit.snapshot(file), request_id)
    await file.delete()
    await _forget([file.stored_name], config or settings)


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
    _require_pending()
    rows = await StoredFile.filter(owner_kind=owner_kind, owner_id__in=owner_ids)
    for row in rows:
        await audit.record(actor, audit.DELETE, "File", row.id, audit.snapshot(row), request_id)
    if rows:
        await StoredFile.filter(id__in=[row.id for row in rows]).delete()
        await _forget([row.stored_name for row in rows], config or settings)
    return len(rows)
