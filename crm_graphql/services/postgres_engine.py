"""The PostgreSQL engine: Tortoise's asyncpg client with the request's deadline
(services/deadline.py) as each statement's `statement_timeout`.

Before every statement run under a deadline, the connection gets
`statement_timeout` = the time the request has left, so the server itself stops the
statement at the deadline (also while it waits for a lock) and the connection stays
usable:
- outside a transaction, with `SET` on the pooled connection; asyncpg's pool runs
  `RESET ALL` when the connection is released, so the next user finds it clean;
- inside a transaction, with `SET LOCAL`, which ends with the transaction.
The wait for a pooled connection is bounded by the deadline too. PostgreSQL's
"canceling statement due to statement timeout" becomes `QueryTimeout`; the
transaction context then rolls the whole transaction back.

A task cancelled while its statement runs (the client went away) needs nothing here:
asyncpg sends the server a cancel request, and the pool waits for it before reuse.

The compiled reads' statements (`read_rows`) run on a second, smaller pool of the same
database whose sessions are set up once for them (read-only, generic plans) and never
changed, so a statement costs one round trip: no `SET` before it and no `RESET ALL` after
it (see `CrmAsyncpgClient.read_rows`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    ConnectionWrapper,
    NestedTransactionContext,
    PoolConnectionWrapper,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.connection import get_connections

from crm_graphql.services.deadline import Deadline, current, timeout_error


def _settings(deadline: Deadline | None, local: bool) -> str:
    scope = "LOCAL " if local else ""
    # Integers and names we chose, not input: safe to inline (SET takes no parameters).
    if deadline is None:
        return ""
    return f"SET {scope}statement_timeout = {deadline.remaining_ms()}"


async def _limit(connection: asyncpg.Connection, deadline: Deadline | None, local: bool) -> None:
    if deadline is not None:
        deadline.check()
    commands = _settings(deadline, local)
    if commands:
        await connection.execute(commands)


def _translate_timeout(exc: BaseException, deadline: Deadline | None) -> BaseException | None:
    if deadline is not None and isinstance(exc, asyncpg.QueryCanceledError):
        return timeout_error(deadline)
    return None


class _PoolConnection(PoolConnectionWrapper):
    """A pooled connection for one statement, with the deadline as its timeout."""

    async def __aenter__(self) -> Any:
        deadline = current()
        if deadline is None:
            return await super().__aenter__()
        deadline.check()
        await self.ensure_connection()
        try:
            self.connection = await self.client._pool.acquire(timeout=deadline.remaining())
        except TimeoutError:
            raise timeout_error(deadline) from None
        try:
            await _limit(self.connection, deadline, local=False)
        except BaseException:
            await self.client._pool.release(self.connection)
            raise
        return self.connection


class _TransactionConnection(ConnectionWrapper):
    """The transaction's connection for one statement, limited with SET LOCAL."""

    async def __aenter__(self) -> Any:
        connection = await super().__aenter__()
        deadline = current()
        if deadline is not None:
            try:
                await _limit(connection, deadline, local=True)
            except BaseException:
                self._lock.release()
                raise
        return connection


# The mixin goes before a Tortoise asyncpg client in the bases; the type checker is told so.
if TYPE_CHECKING:
    _TranslatingBase = AsyncpgDBClient
else:
    _TranslatingBase = object


class _Translating(_TranslatingBase):
    async def _translate_exceptions(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = current()
        try:
            return await super()._translate_exceptions(func, *args, **kwargs)
        except asyncpg.QueryCanceledError as exc:
            error = _translate_timeout(exc, deadline)
            if error is None:
                raise
            raise error from exc


class _TransactionContext(TransactionContextPooled):
    """Tortoise's, with the wait for a pooled connection bounded by the deadline."""

    async def __aenter__(self) -> Any:
        deadline = current()
        if deadline is None:
            return await super().__aenter__()
        deadline.check()
        await self.ensure_connection()
        try:
            self.client._connection = await self.client._parent._pool.acquire(
                timeout=deadline.remaining()
            )
        except TimeoutError:
            raise timeout_error(deadline) from None
        self.token = get_connections().set(self.connection_name, self.client)
        try:
            await self.client.begin()
        except BaseException:
            get_connections().reset(self.token)
            await self.client._parent._pool.release(self.client._connection)
            raise
        return self.client


class _Transaction(_Translating, TransactionWrapper):
    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(_Transaction(self))

    def acquire_connection(self) -> ConnectionWrapper:
        return _TransactionConnection(self._lock, self)


# The compiled reads' sessions: their statements only read, and their plans do not depend
# on the values (planning the dashboard's took ~6 ms, longer than running it; asyncpg
# keeps each prepared statement per connection, so each connection plans it once).
READ_SESSION = {"default_transaction_read_only": "on", "plan_cache_mode": "force_generic_plan"}


def read_pool_size(client: AsyncpgDBClient) -> int:
    """The read pool's connections: half the main pool's, rounded up."""
    return max(1, (client.pool_maxsize + 1) // 2)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The read pool's reset: nothing to undo, as nothing changes a read session
    (asyncpg still rolls back a transaction left open before calling this)."""


class CrmAsyncpgClient(_Translating, AsyncpgDBClient):
    _reads: asyncpg.Pool | None = None
    _reads_lock: asyncio.Lock | None = None

    def acquire_connection(self) -> PoolConnectionWrapper:
        return _PoolConnection(self, self._pool_init_lock)

    async def read_rows(self, sql: str, params: list[Any]) -> list[asyncpg.Record]:
        """One read-only statement on the read pool, in one round trip: the request's
        deadline bounds the wait for a connection and the statement (asyncpg cancels it
        on the server when the time is up). Logged as Tortoise logs its statements, so
        statement counts (services/sqlcount.py) see it."""
        deadline = current()
        if deadline is not None:
            deadline.check()
        pool = self._reads or await self._read_pool()
        self.log.debug("%s: %s", sql, params)
        timeout = deadline.remaining() if deadline is not None else None
        try:
            async with pool.acquire(timeout=timeout) as connection:
                rows: list[asyncpg.Record] = await connection.fetch(sql, *params, timeout=timeout)
                return rows
        except TimeoutError:
            raise timeout_error(deadline) from None

    async def _read_pool(self) -> asyncpg.Pool:
        if self._reads_lock is None:
            self._reads_lock = asyncio.Lock()
        async with self._reads_lock:
            if self._reads is None:
                if not self._pool:  # its template is made with the main pool
                    async with self._pool_init_lock:
                        if not self._pool:
                            await self.create_connection(with_db=True)
                # Half the main pool, rounded up (docs/deployment.md counts both).
                template = dict(self._template, min_size=1, max_size=read_pool_size(self))
                template["server_settings"] = {**self.server_settings, **READ_SESSION}
                self._reads = await asyncpg.create_pool(
                    None, password=self.password, reset=_keep_session, **template
                )
            return self._reads

    async def _close(self) -> None:
        reads, self._reads = self._reads, None
        if reads is not None:
            try:
                await asyncio.wait_for(reads.close(), 10)
            except TimeoutError:
                reads.terminate()
        await super()._close()

    def _in_transaction(self) -> TransactionContext:
        return _TransactionContext(_Transaction(self), self._pool_init_lock)


client_class = CrmAsyncpgClient


def get_client_class(db_info: dict[str, Any]) -> type[AsyncpgDBClient]:
    return CrmAsyncpgClient
