"""The embedded SQLite engine: Tortoise's, with one writer connection, a small pool of
reader connections, a deadline on every statement, and Unicode-aware UPPER and LOWER.

- Readers: Tortoise's client has one connection behind one lock, so one slow read held
  every request behind it. Here statements that only read, outside a transaction, run
  on a pool of reader connections (WAL mode lets them read while the writer writes),
  each in its own aiosqlite thread. Transactions and every write keep the one writer
  connection: in-process writers queue on its lock, not on SQLite's file lock.
- Deadline: each connection has a progress handler that interrupts its statement once
  the deadline of the request that started it (services/deadline.py) has passed or the
  awaiting task was cancelled (the client left). The statement raises `QueryTimeout`;
  SQLite rolls back an interrupted write, and the transaction context rolls back the
  rest.
- Other processes (`crm-graphql import` while the server runs): every transaction
  starts with `BEGIN IMMEDIATE`, and the writer waits for SQLite's file lock (busy
  timeout: the request's remaining time, else `BUSY_TIMEOUT_MS`) instead of failing
  with "database is locked" on its first write.
- SQLite's built-in UPPER folds ASCII only, so `contains` (UPPER(col) LIKE UPPER(?))
  would not match "José" with "JOSÉ": both functions are Python's on every connection.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import aiosqlite
from tortoise.backends.base.client import NestedTransactionContext, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from crm_graphql.services.deadline import Deadline, current, timeout_error
from crm_graphql.services.timebuckets import sqlite_bucket

T = TypeVar("T")

# Without a deadline (mail workers, the CLI's other commands), a writer waits this long
# for another process's write lock before "database is locked".
BUSY_TIMEOUT_MS = 30_000
# The progress handler runs every this many SQLite VM instructions (microseconds apart).
PROGRESS_STEPS = 1_000
DEFAULT_READ_CONNECTIONS = 4

# A statement that can only read: SELECT, or WITH ... not followed by a write.
_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*", re.S)
_WRITE_WORDS = re.compile(r"\b(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def is_read_only(sql: str) -> bool:
    head = _LEADING_COMMENTS.sub("", sql, count=1)[:6].upper()
    if head.startswith("SELECT"):
        return True
    return head.startswith("WITH") and not _WRITE_WORDS.search(sql)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Watch:
    """What one connection's progress handler checks, set in the connection's own
    thread right before each statement (so a statement always runs under the deadline
    of the task that queued it)."""

    __slots__ = ("cancelled", "deadline")

    def __init__(self) -> None:
        self.deadline: Deadline | None = None
        self.cancelled = False

    def arm(self, deadline: Deadline | None) -> None:
        self.deadline = deadline
        self.cancelled = False

    def interrupt(self) -> bool:
        """The progress handler: a true value makes SQLite stop the statement."""
        if self.cancelled:
            return True
        deadline = self.deadline
        return deadline is not None and deadline.expired()


def _busy_ms(deadline: Deadline | None) -> int:
    return deadline.remaining_ms() if deadline is not None else BUSY_TIMEOUT_MS


def _is_interruption(exc: BaseException) -> bool:
    message = str(exc)
    return "interrupted" in message or "database is locked" in message


async def _run(
    connection: aiosqlite.Connection,
    watch: _Watch,
    deadline: Deadline | None,
    work: Callable[[sqlite3.Connection], T],
) -> T:
    """Run `work(raw connection)` in the connection's thread under `deadline`. An
    interruption becomes QueryTimeout; a cancelled caller interrupts its statement."""

    def job() -> T:
        watch.arm(deadline)
        try:
            return work(connection._conn)
        finally:
            watch.deadline = None

    try:
        return await connection._execute(job)
    except asyncio.CancelledError:
        # The task awaiting this statement is gone (client disconnect, shutdown): stop
        # the statement too, or it would hold the connection until it finishes.
        watch.cancelled = True
        raise
    except sqlite3.OperationalError as exc:
        if _is_interruption(exc) and (
            watch.cancelled or (deadline is not None and deadline.expired())
        ):
            raise timeout_error(deadline) from exc
        raise OperationalError(exc) from exc
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(exc) from exc


async def _acquire_lock(lock: asyncio.Lock, deadline: Deadline | None) -> None:
    """Wait for the writer, but not past the request's deadline."""
    if deadline is None:
        await lock.acquire()
        return
    deadline.check()
    try:
        await asyncio.wait_for(lock.acquire(), deadline.remaining())
    except TimeoutError:
        raise timeout_error(deadline) from None


async def _setup_connection(connection: aiosqlite.Connection, watch: _Watch) -> None:
    await connection.create_function("upper", 1, _upper, deterministic=True)
    await connection.create_function("lower", 1, _lower, deterministic=True)
    # Date buckets in a named time zone for the aggregates (SQLite has no zone data).
    await connection.create_function("crm_bucket", 3, sqlite_bucket, deterministic=True)
    await connection.set_progress_handler(watch.interrupt, PROGRESS_STEPS)


class CrmSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        readers = int(kwargs.pop("read_connections", DEFAULT_READ_CONNECTIONS))
        super().__init__(file_path, **kwargs)
        self.pragmas.setdefault("busy_timeout", BUSY_TIMEOUT_MS)
        in_memory = file_path == ":memory:" or "mode=memory" in file_path
        # An in-memory database is private to its connection: readers would see another.
        self.read_connections = 0 if in_memory else max(readers, 0)
        self._watch = _Watch()
        self._readers: asyncio.Queue[tuple[aiosqlite.Connection, _Watch]] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._reader_lock = asyncio.Lock()

    async def _post_connect(self) -> None:
        await super()._post_connect()
        assert self._connection is not None
        await _setup_connection(self._connection, self._watch)

    async def close(self) -> None:
        readers, self._all_readers = self._all_readers, []
        self._readers = asyncio.Queue()
        for reader in readers:
            await reader.close()
        await super().close()

    # -- readers ------------------------------------------------------------------

    async def _open_reader(self) -> tuple[aiosqlite.Connection, _Watch]:
        connection = await aiosqlite.connect(self.filename, isolation_level=None)
        connection._conn.row_factory = sqlite3.Row
        watch = _Watch()
        # query_only: a write routed here by mistake fails loudly instead of
        # competing with the writer for SQLite's lock.
        for pragma in ("query_only=1", f"busy_timeout={BUSY_TIMEOUT_MS}"):
            await (await connection.execute(f"PRAGMA {pragma}")).close()
        await _setup_connection(connection, watch)
        self._all_readers.append(connection)
        return connection, watch

    @asynccontextmanager
    async def _reader(self, deadline: Deadline | None) -> AsyncIterator[tuple[Any, _Watch]]:
        if self._readers.empty() and len(self._all_readers) < self.read_connections:
            async with self._reader_lock:
                if self._readers.empty() and len(self._all_readers) < self.read_connections:
                    if not self._connection:
                        # The writer opens the file first (WAL mode, migrations).
                        await self.create_connection(with_db=True)
                    self._readers.put_nowait(await self._open_reader())
        if deadline is None:
            reader = await self._readers.get()
        else:
            deadline.check()
            try:
                reader = await asyncio.wait_for(self._readers.get(), deadline.remaining())
            except TimeoutError:
                raise timeout_error(deadline) from None
        try:
            yield reader
        finally:
            if reader[0] in self._all_readers:
                self._readers.put_nowait(reader)

    async def _read(self, query: str, values: list | None) -> list[sqlite3.Row]:
        deadline = current()
        params = values or []

        def fetch(raw: sqlite3.Connection) -> list[sqlite3.Row]:
            return raw.execute(query, params).fetchall()

        if self.read_connections and is_read_only(query):
            async with self._reader(deadline) as (connection, watch):
                self.log.debug("%s: %s", query, values)
                return await _run(connection, watch, deadline, fetch)
        return await self._write(query, fetch)

    async def _write(self, query: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """One statement on the writer connection, outside any transaction."""
        deadline = current()
        await _acquire_lock(self._lock, deadline)
        try:
            if not self._connection:
                await self.create_connection(with_db=True)
            assert self._connection is not None
            self.log.debug("%s", query)

            def job(raw: sqlite3.Connection) -> T:
                raw.execute(f"PRAGMA busy_timeout = {_busy_ms(deadline)}")
                return work(raw)

            return await _run(self._connection, self._watch, deadline, job)
        finally:
            self._lock.release()

    # -- Tortoise's client API, outside transactions --------------------------------

    async def execute_query(
        self, query: str, values: list | None = None
    ) -> tuple[int, Sequence[dict]]:
        query = query.replace("\x00", "'||CHAR(0)||'")
        if self.read_connections and is_read_only(query):
            rows = await self._read(query, values)
            # Tortoise reads sqlite3.Row objects as the dicts its API names.
            return len(rows), cast("Sequence[dict]", rows)
        params = values or []

        # sqlite3.Row objects, which Tortoise reads as dicts.
        def work(raw: sqlite3.Connection) -> tuple[int, Sequence[dict]]:
            start = raw.total_changes
            rows = raw.execute(query, params).fetchall()
            return (raw.total_changes - start) or len(rows), rows

        return await self._write(query, work)

    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        query = query.replace("\x00", "'||CHAR(0)||'")
        return [dict(row) for row in await self._read(query, values)]

    async def execute_insert(self, query: str, values: list) -> int:
        def work(raw: sqlite3.Connection) -> int:
            return raw.execute(query, values).lastrowid or 0

        return await self._write(query, work)

    async def execute_many(self, query: str, values: list[list]) -> None:
        def work(raw: sqlite3.Connection) -> None:
            raw.execute("BEGIN IMMEDIATE")
            try:
                raw.executemany(query, values)
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

        await self._write(query, work)

    async def execute_script(self, query: str) -> None:
        await self._write(query, lambda raw: raw.executescript(query))

    # -- transactions -------------------------------------------------------------

    def _in_transaction(self) -> TransactionContext:
        return _TransactionContext(_TransactionWrapper(self), self._lock)


class _TransactionContext(SqliteTransactionContext):
    """Tortoise's, with the wait for the writer bounded by the deadline."""

    async def __aenter__(self) -> _TransactionWrapper:
        deadline = current()
        await _acquire_lock(self._trxlock, deadline)
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection


class _TransactionWrapper(SqliteTransactionWrapper):
    """A transaction on the writer: BEGIN IMMEDIATE under the deadline current when it
    starts, every statement under the same progress-handler watch."""

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self._watch: _Watch = connection._watch
        self._deadline: Deadline | None = getattr(connection, "_deadline", None)

    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(_TransactionWrapper(self))

    async def _do(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._deadline is not None:
            self._deadline.check()
        return await _run(self._connection, self._watch, self._deadline, work)

    async def begin(self) -> None:
        deadline = self._deadline = current()

        def work(raw: sqlite3.Connection) -> None:
            if raw.in_transaction:  # pragma: no cover - Tortoise's begin commits too
                raw.execute("COMMIT")
            raw.execute(f"PRAGMA busy_timeout = {_busy_ms(deadline)}")
            raw.execute("BEGIN IMMEDIATE")

        try:
            await self._do(work)
        except OperationalError as exc:
            raise TransactionManagementError(exc) from exc

    async def _finish(self, statement: str) -> None:
        if self._finalized:
            raise TransactionManagementError("Transaction already finalised")
        self._finalized = True

        def work(raw: sqlite3.Connection) -> None:
            # Not under the deadline: a COMMIT or ROLLBACK must never be interrupted.
            # SQLite may already have rolled back an interrupted write.
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if raw.in_transaction:
                raw.execute(statement)

        await _run(self._connection, self._watch, None, work)

    async def commit(self) -> None:
        await self._finish("COMMIT")

    async def rollback(self) -> None:
        await self._finish("ROLLBACK")

    async def execute_query(
        self, query: str, values: list | None = None
    ) -> tuple[int, Sequence[dict]]:
        query = query.replace("\x00", "'||CHAR(0)||'")
        params = values or []
        self.log.debug("%s: %s", query, values)

        # sqlite3.Row objects, which Tortoise reads as dicts.
        def work(raw: sqlite3.Connection) -> tuple[int, Sequence[dict]]:
            start = raw.total_changes
            rows = raw.execute(query, params).fetchall()
            return (raw.total_changes - start) or len(rows), rows

        return await self._do(work)

    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        return [dict(row) for row in (await self.execute_query(query, values))[1]]

    async def execute_insert(self, query: str, values: list) -> int:
        self.log.debug("%s: %s", query, values)
        return await self._do(lambda raw: raw.execute(query, values).lastrowid or 0)

    async def execute_many(self, query: str, values: list[list]) -> None:
        self.log.debug("%s: %s", query, values)
        await self._do(lambda raw: raw.executemany(query, values))

    async def execute_script(self, query: str) -> None:
        self.log.debug(query)
        await self._do(lambda raw: raw.executescript(query))

    async def savepoint(self) -> None:
        from tortoise.backends.sqlite.client import _gen_savepoint_name

        self._savepoint = name = _gen_savepoint_name()
        await self._do(lambda raw: raw.execute(f"SAVEPOINT {name}"))

    async def savepoint_rollback(self) -> None:
        if self._finalized:
            raise TransactionManagementError("Transaction already finalised")
        if self._savepoint is None:
            raise TransactionManagementError("No savepoint to rollback to")
        name, self._savepoint = self._savepoint, None

        def work(raw: sqlite3.Connection) -> None:
            if raw.in_transaction:  # an interrupted write may have ended it already
                raw.execute(f"ROLLBACK TO {name}")

        await _run(self._connection, self._watch, None, work)

    async def release_savepoint(self) -> None:
        if self._finalized:
            raise TransactionManagementError("Transaction already finalised")
        if self._savepoint is None:
            raise TransactionManagementError("No savepoint to rollback to")
        name = self._savepoint
        await self._do(lambda raw: raw.execute(f"RELEASE {name}"))


client_class = CrmSqliteClient
# The name before readers and deadlines came; benchmarks and notes still use it.
UnicodeSqliteClient = CrmSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return CrmSqliteClient
