"""Writing the event log and waking its readers (issue 16).

`record` writes one event in the caller's transaction (every create, update and delete
of companies, contacts, contracts, invoices, leads, activities and files calls it next
to its audit entry). On PostgreSQL the same statement stores the writing transaction's
id (`txid`, the reading order: see docs/architecture.md) and sends
`NOTIFY crm_events, '<id>'`, which the server delivers at commit; in this process the
listeners are woken once the transaction has committed. A deletion also stores who
could see the object at that moment (`EventAudience`), computed by the audience
function the permissions layer registers (`set_audience`): services cannot import the
rules, and a tombstone must be shown to those who could see the object, not to those
who could see it now that it is gone."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import connections

from crm_graphql.models.events import Event, EventAction, EventAudience, EventObjectType
from crm_graphql.services.files.transactions import on_commit
from crm_graphql.values import cents_to_decimal

log = logging.getLogger("crm_graphql.events")

CHANNEL = "crm_events"

# Never in an event, whatever the model: secrets, and the invoice's internal note
# (readers of the feed, webhooks included, are not all meant to read it).
HIDDEN_FIELDS = frozenset(
    {
        "password_hash",
        "token_hash",
        "smtp_password",
        "imap_password",
        "internal_note",
        "version",
        "path",
        "stored_name",
        # Bumped by every write: the event's own time says when.
        "updated_at",
        "last_update",
        "close_key",
    }
)

# The permissions layer's answer to "who (non-superadmin user ids) can see these
# objects now": {object id: [user ids]}.
AudienceFn = Callable[[EventObjectType, Sequence[int]], Awaitable[dict[int, list[int]]]]
_audience: list[AudienceFn] = []


def set_audience(fn: AudienceFn) -> None:
    """Register the function that lists who can see objects (permissions/events.py)."""
    _audience[:] = [fn]


def api_name(name: str) -> str:
    """A column name as the API spells it (`company_id` -> `companyId`)."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _money(value: Any) -> Any:
    """Cents as the API's decimal text ("2613.60"); lists element by element."""
    if isinstance(value, list):
        return [_money(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(cents_to_decimal(value))
    return value


def api_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """An audit diff or snapshot ({column: [old, new]} or {column: value}) as the
    event's `changes`: API field names (money columns in cents become the API's decimal
    text under the field's name), hidden and internal columns left out."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        # Sort keys (`*_key`) and the PDF queue's bookkeeping are not the object's data.
        if (
            name in HIDDEN_FIELDS
            or name.endswith("_key")
            or (name.startswith("pdf_") and name != "pdf_status")
        ):
            continue
        if name.endswith("_cents"):
            out[api_name(name.removesuffix("_cents"))] = _money(value)
            continue
        out[api_name(name)] = value
    return out


def created(snapshot: dict[str, Any]) -> dict[str, list[Any]]:
    """A new object's values as changes from nothing."""
    return {name: [None, value] for name, value in snapshot.items() if value is not None}


def _dialect(conn: BaseDBAsyncClient) -> str:
    return str(conn.capabilities.dialect)


async def record(
    conn: BaseDBAsyncClient | None,
    object_type: EventObjectType,
    object_id: int,
    action: EventAction,
    changes: dict[str, Any],
    actor_id: int | None,
    company_id: int | None = None,
    scope: dict[str, Any] | None = None,
) -> int:
    """Write one event in the current transaction (`conn`: the transaction's client,
    None for the current one). `changes` are {column: [old, new]}; a deletion stores
    none, but who could see the object (call this before the row is deleted)."""
    conn = conn or connections.get("default")
    values = {} if action == EventAction.DELETE else api_changes(changes)
    now = timezone.now()
    if _dialect(conn) == "postgres":
        rows = await conn.execute_query_dict(
            "WITH ins AS (INSERT INTO events (txid, object_type, object_id, action, changes,"
            " actor_id, created_at, company_id, scope) VALUES (txid_current(), $1, $2, $3,"
            " $4::jsonb, $5, $6, $7, $8::jsonb) RETURNING id)"
            " SELECT id, pg_notify('crm_events', id::text) FROM ins",
            [
                str(object_type),
                object_id,
                str(action),
                json.dumps(values, default=str),
                actor_id,
                now,
                company_id,
                json.dumps(scope or {}, default=str),
            ],
        )
        event_id = int(rows[0]["id"])
    else:
        event = await Event.create(
            using_db=conn,
            object_type=str(object_type),
            object_id=object_id,
            action=str(action),
            changes=json.loads(json.dumps(values, default=str)),
            actor_id=actor_id,
            created_at=now,
            company_id=company_id,
            scope=scope or {},
        )
        event_id = int(event.id)
    if action == EventAction.DELETE:
        await _store_audience(conn, object_type, {object_id: event_id})
    on_commit(wake)
    return event_id


async def record_deletions(
    conn: BaseDBAsyncClient | None,
    object_type: EventObjectType,
    rows: Sequence[tuple[int, int | None]],
    actor_id: int | None,
) -> None:
    """Tombstones for objects deleted together (a company's contacts, contracts and
    activities go with it): (object id, company id) pairs, before the rows go."""
    if not rows:
        return
    conn = conn or connections.get("default")
    now = timezone.now()
    ids: dict[int, int] = {}
    for object_id, company_id in rows:
        if _dialect(conn) == "postgres":
            found = await conn.execute_query_dict(
                "INSERT INTO events (txid, object_type, object_id, action, changes, actor_id,"
                " created_at, company_id, scope) VALUES (txid_current(), $1, $2, $3,"
                " '{}'::jsonb, $4, $5, $6, '{}'::jsonb) RETURNING id",
                [str(object_type), object_id, str(EventAction.DELETE), actor_id, now, company_id],
            )
            ids[object_id] = int(found[0]["id"])
        else:
            event = await Event.create(
                using_db=conn,
                object_type=str(object_type),
                object_id=object_id,
                action=str(EventAction.DELETE),
                changes={},
                actor_id=actor_id,
                created_at=now,
                company_id=company_id,
                scope={},
            )
            ids[object_id] = int(event.id)
    if _dialect(conn) == "postgres":
        await conn.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, str(max(ids.values()))])
    await _store_audience(conn, object_type, ids)
    on_commit(wake)


async def record_many(
    conn: BaseDBAsyncClient,
    object_type: EventObjectType,
    rows: Sequence[tuple[int, EventAction, dict[str, Any], int | None]],
    actor_id: int | None,
) -> None:
    """Creates and updates written together (a CSV import): (object id, action,
    {column: [old, new]}, company id) each, in one statement."""
    if not rows:
        return
    txid = 0
    if _dialect(conn) == "postgres":
        found = await conn.execute_query_dict("SELECT txid_current() AS txid")
        txid = int(found[0]["txid"])
    now = timezone.now()
    await Event.bulk_create(
        [
            Event(
                txid=txid,
                object_type=str(object_type),
                object_id=object_id,
                action=str(action),
                changes=json.loads(json.dumps(api_changes(changes), default=str)),
                actor_id=actor_id,
                created_at=now,
                company_id=company_id,
                scope={},
            )
            for object_id, action, changes, company_id in rows
        ],
        using_db=conn,
    )
    if _dialect(conn) == "postgres":
        await conn.execute_query("SELECT pg_notify($1, '')", [CHANNEL])
    on_commit(wake)


async def _store_audience(
    conn: BaseDBAsyncClient, object_type: EventObjectType, events: dict[int, int]
) -> None:
    """{object id: event id}: store who can see each object now (before it goes)."""
    if not _audience:
        # Nothing registered (a tool that loads no rules): superadmins only.
        return
    seen = await _audience[0](object_type, list(events))
    rows = [
        EventAudience(event_id=events[object_id], user_id=user_id)
        for object_id, users in seen.items()
        for user_id in users
    ]
    if rows:
        await EventAudience.bulk_create(rows, using_db=conn)


# In-process listeners: each has a flag set by `wake`, so a wake-up between a reader's
# query and its wait is not lost.
class Listener:
    """A subscription to wake-ups: `await listener.wait(seconds)` returns True when events
    may have been committed since the last wait (or since it subscribed)."""

    def __init__(self) -> None:
        self._flag = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def _set(self) -> None:
        self._loop.call_soon_threadsafe(self._flag.set)

    async def wait(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._flag.wait(), seconds)
        except TimeoutError:
            return False
        self._flag.clear()
        return True


_listeners: set[Listener] = set()


def subscribe() -> Listener:
    listener = Listener()
    _listeners.add(listener)
    return listener


def unsubscribe(listener: Listener) -> None:
    _listeners.discard(listener)


def wake() -> None:
    """Tell every listener of this process that events were committed."""
    for listener in list(_listeners):
        with suppress(RuntimeError):  # its loop has closed
            listener._set()


async def wait_for_events(seconds: float) -> bool:
    """Wait until events are committed (here, or elsewhere on PostgreSQL) or `seconds`
    pass. A reader that must not miss a wake-up between its query and this wait
    uses `subscribe()` instead."""
    listener = subscribe()
    try:
        return await listener.wait(seconds)
    finally:
        unsubscribe(listener)


async def _listen_once(stop: asyncio.Event) -> None:
    import asyncpg

    client: Any = connections.get("default")
    connection = await asyncpg.connect(
        host=client.host,
        port=client.port,
        user=client.user,
        password=client.password,
        database=client.database,
    )
    try:
        await connection.add_listener(CHANNEL, lambda *_: wake())
        # A commit made while (re)connecting would be missed: wake the readers once.
        wake()
        while not stop.is_set() and not connection.is_closed():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)
    finally:
        with suppress(Exception):
            await connection.close()


async def _listen(stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await _listen_once(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("LISTEN %s failed; retrying", CHANNEL, exc_info=True)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)


@asynccontextmanager
async def listening() -> AsyncIterator[None]:
    """While open, on PostgreSQL, `LISTEN crm_events` on a connection of its own and
    wake this process's listeners on every notification (changes made by other
    processes); on SQLite nothing is needed (one process writes, and wakes)."""
    if _dialect(connections.get("default")) != "postgres":
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_listen(stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
