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
asyncpg sends the server a cancel request, and the pool waits for it before reuse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

_generic: ContextVar[bool] = ContextVar("crm_generic_plans", default=False)


@contextmanager
def generic_plans() -> Iterator[None]:
    """Statements run inside use the generic plan of their prepared statement (planned
    once per connection, as asyncpg keeps it): the compiled reads' statements take
    longer to plan (~6 ms) than to run, and their plans do not depend on the values.
    The setting goes with the statement's own SET (one round trip) and the pool's
    RESET ALL on release undoes it."""
    token = _generic.set(True)
    try:
        yield
    finally:
        _generic.reset(token)


def _settings(deadline: Deadline | None, local: bool) -> str:
    scope = "LOCAL " if local else ""
    # Integers and names we chose, not input: safe to inline (SET takes no parameters).
    commands = []
    if deadline is not None:
        commands.append(f"SET {scope}statement_timeout = {deadline.remaining_ms()}")
    if _generic.get():
        commands.append(f"SET {scope}plan_cache_mode = force_generic_plan")
    return "; ".join(commands)


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
        if deadline is None and not _generic.get():
            return await super().__aenter__()
        if deadline is not None:
            deadline.check()
        await self.ensure_connection()
        try:
            self.connection = await self.client._pool.acquire(
                timeout=deadline.remaining() if deadline is not None else None
            )
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
        if deadline is not None or _generic.get():
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


class CrmAsyncpgClient(_Translating, AsyncpgDBClient):
    def acquire_connection(self) -> PoolConnectionWrapper:
        return _PoolConnection(self, self._pool_init_lock)

    def _in_transaction(self) -> TransactionContext:
        return _TransactionContext(_Transaction(self), self._pool_init_lock)


client_class = CrmAsyncpgClient


def get_client_class(db_info: dict[str, Any]) -> type[AsyncpgDBClient]:
    return CrmAsyncpgClient
