"""Transactions that cover file rows and bytes (`file_transaction`, which
`services.mutations.atomic`, every mutation's transaction, is built on).

Bytes on disk are written before the commit and removed only when the transaction
really rolled back; bytes of deleted rows are removed only after it committed. An error
after the commit (the connection dropped while being released) does not undo a
success. When the connection breaks during COMMIT, PostgreSQL is asked (`txid_status`)
whether the transaction committed; if it cannot say, the bytes stay and the client gets
OUTCOME_UNKNOWN (`files sweep` tidies up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from crm_graphql.errors import OutcomeUnknown, WriteNotApplied
from crm_graphql.services.deadline import deadline_scope

log = logging.getLogger("crm_graphql.files")


@dataclass
class Pending:
    created: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    # Run once the outermost transaction has committed (e.g. wake the PDF queue).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Awaited once it has committed (e.g. wait a bounded time for an invoice's PDF).
    after_commit_async: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_pending: ContextVar[Pending | None] = ContextVar("crm_files_pending", default=None)


def unlink_quietly(paths: list[Path]) -> None:
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
    pending = Pending()
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
                await asyncio.to_thread(unlink_quietly, pending.created)
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
                    unlink_quietly(pending.removed)
                    _run_callbacks(pending.after_commit)
                    raise
                log.warning("error after commit ignored: %r", exc)
            elif not isinstance(exc, Exception):
                # Cancelled during COMMIT: it may have committed. Keep the bytes (the
                # sweeper removes them if no row points at them).
                raise
            elif xid is None or not _connection_lost(exc):
                # SQLite, or the server refused the COMMIT: nothing was committed.
                await asyncio.to_thread(unlink_quietly, pending.created)
                raise
            else:
                status = await _commit_status(xid)
                if status == "aborted":
                    await asyncio.to_thread(unlink_quietly, pending.created)
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
    await asyncio.to_thread(unlink_quietly, pending.removed)
    _run_callbacks(pending.after_commit)
    for waiter in pending.after_commit_async:
        try:
            await waiter()
        except Exception:
            log.exception("an after-commit callback failed")


def require_pending() -> Pending:
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("call inside files.file_transaction() or mutations.atomic()")
    return pending
