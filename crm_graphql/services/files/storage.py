"""The bytes of stored files, in either store (setting `CRM_FILE_STORE`, see README and
docs/deployment.md):

- `filesystem` (the SQLite default): `<data dir>/files/<2-char shard>/<generated name>`.
  An upload streams in chunks to a temporary file in the target directory, computing
  size and SHA-256 on the way, and is renamed into place only when complete and within
  the size limit. Only instances sharing that directory see the bytes.
- `database` (the PostgreSQL default): rows of `file_blobs`, 1 MiB chunks, written in
  the same transaction as the file's row, so every instance on the database sees them
  and a rollback leaves nothing.

Reads look in the configured store first, then the other one, so `crm-graphql files
move` can run while the servers do."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tortoise.transactions import in_transaction

from crm_graphql.models.files import FileBlob, StoredFile
from crm_graphql.services.files.names import path_of
from crm_graphql.services.files.transactions import require_pending, unlink_quietly
from crm_graphql.settings import Settings, settings

CHUNK_SIZE = 64 * 1024
# One `file_blobs` row holds at most this much (a read streams row by row).
BLOB_CHUNK = 1_048_576
FILESYSTEM = "filesystem"
DATABASE = "database"
STORES = (FILESYSTEM, DATABASE)


class TooLarge(Exception):
    pass


class _Meter:
    """The size and SHA-256 of the bytes written so far; TooLarge past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge
        self.digest.update(chunk)

    def result(self) -> tuple[int, str]:
        return self.size, self.digest.hexdigest()


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
    meter = _Meter(limit)
    with temp.open("wb") as out:
        while chunk := reader.read(CHUNK_SIZE):
            meter.add(chunk)
            out.write(chunk)
        _finish(out)
    return meter.result()


async def _copy_async(source: Any, temp: Path, limit: int) -> tuple[int, str]:
    """Copy an async reader (`await read(n)`) or an async iterable of bytes into `temp`."""
    meter = _Meter(limit)

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
            meter.add(chunk)
            await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(_finish, out)
    finally:
        # Synchronous on purpose: it must happen even if the task is cancelled again;
        # the buffered writer's lock makes it wait for a write still in a thread.
        out.close()
    return meter.result()


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
        unlink_quietly([temp])
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
    meter = _Meter(limit)
    seq = 0
    buffer = bytearray()
    async with in_transaction():
        async for chunk in _chunks(source):
            meter.add(chunk)
            buffer += chunk
            while len(buffer) >= BLOB_CHUNK:
                await FileBlob.create(
                    stored_name=stored_name, seq=seq, data=bytes(buffer[:BLOB_CHUNK])
                )
                del buffer[:BLOB_CHUNK]
                seq += 1
        if buffer or seq == 0:
            await FileBlob.create(stored_name=stored_name, seq=seq, data=bytes(buffer))
    return meter.result()


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
    pending = require_pending()
    limit = config.limits.max_upload_bytes if limit is None else limit
    if (store_kind or config.file_store_kind) == DATABASE:
        return await _write_blobs(source, stored_name, limit)
    target = path_of(stored_name, config)
    size, sha = await _write(source, target, limit)
    pending.created.append(target)
    return size, sha


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


async def in_database(stored_name: str) -> bool:
    """The database store has the bytes of `stored_name`."""
    return await FileBlob.filter(stored_name=stored_name, seq=0).exists()


async def open_bytes(file: StoredFile, config: Settings | None = None) -> Opened:
    """The file's bytes, looked for in the configured store first, then in the other
    (files being moved); FileNotFoundError when neither has them."""
    config = config or settings
    name = file.stored_name
    path_of(name, config)  # refuses anything but a generated name
    order = (DATABASE, FILESYSTEM) if config.file_store_kind == DATABASE else STORES
    for kind in order:
        if kind == DATABASE and await in_database(name):
            return Opened(name)
        if kind == FILESYSTEM and (path := await _on_disk(name, config)) is not None:
            return Opened(name, path)
    raise FileNotFoundError(name)


async def read_bytes(file: StoredFile, config: Settings | None = None) -> bytes:
    """All the bytes of a file (for small files: a logo, a mail attachment)."""
    return await (await open_bytes(file, config)).read()
