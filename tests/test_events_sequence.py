"""The event log's reading order under concurrent writers, and its wake-ups (issue 16).

A reader paging by position must never pass an event that commits later with a
smaller id: on PostgreSQL two real concurrent transactions, the one that wrote first
committing last."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.permissions.events import viewer_of, visible_events
from crm_graphql.services import events
from crm_graphql.services.files.transactions import file_transaction
from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.factories import make_company, make_user


async def _write(company_id: int, started: asyncio.Event, release: asyncio.Event) -> int:
    async with in_transaction() as conn:
        event_id = await events.record(
            conn,
            EventObjectType.COMPANY,
            company_id,
            EventAction.UPDATE,
            {"name": ["a", "b"]},
            None,
            company_id,
        )
        started.set()
        await release.wait()
    return event_id


@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite has one writer: ids come in commit order")
async def test_a_reader_never_passes_an_event_that_commits_later_with_a_smaller_id() -> None:
    admin = await viewer_of((await make_user("root", superadmin=True)).id)
    assert admin is not None
    company = await make_company("Acme")
    early = await events.record(
        None, EventObjectType.COMPANY, company.id, EventAction.CREATE, {}, None, company.id
    )
    slow_started, slow_release = asyncio.Event(), asyncio.Event()
    fast_started, fast_release = asyncio.Event(), asyncio.Event()
    slow = asyncio.create_task(_write(company.id, slow_started, slow_release))
    await slow_started.wait()  # the slow writer holds the smaller id, uncommitted
    fast = asyncio.create_task(_write(company.id, fast_started, fast_release))
    await fast_started.wait()
    fast_release.set()
    fast_id = await fast  # the larger id is committed
    try:
        slow_id = None
        assert fast_id > early
        # A reader now gets the early event and stops: the fast one waits behind the
        # slow transaction, which may still commit a smaller id.
        page = await visible_events(admin, None, None, 100)
        assert [e.id for e in page] == [early]
        assert await visible_events(admin, early, None, 100) == []
    finally:
        slow_release.set()
        slow_id = await slow
    assert slow_id < fast_id
    # Once the slow one committed, the reader at `early` gets both, nothing skipped.
    after = await visible_events(admin, early, None, 100)
    assert sorted(e.id for e in after) == [slow_id, fast_id]
    assert await visible_events(admin, after[-1].id, None, 100) == []


async def test_committed_events_wake_listeners_and_rolled_back_ones_do_not() -> None:
    company = await make_company("Acme")
    listener = events.subscribe()
    try:
        with pytest.raises(RuntimeError):
            async with file_transaction():
                await events.record(
                    None, EventObjectType.COMPANY, company.id, EventAction.UPDATE, {}, None
                )
                raise RuntimeError("roll back")
        assert await listener.wait(0.3) is False
        async with file_transaction():
            await events.record(
                None, EventObjectType.COMPANY, company.id, EventAction.UPDATE, {}, None
            )
        assert await listener.wait(2) is True
    finally:
        events.unsubscribe(listener)


@pytest.mark.skipif(not IS_POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_a_notification_from_another_process_wakes_listeners() -> None:
    async with events.listening():
        listener = events.subscribe()
        try:
            await asyncio.sleep(0.5)  # LISTEN in place (it wakes once on connecting)
            await listener.wait(0.1)
            other = await asyncpg.connect(DATABASE_URL)
            try:
                await other.execute("SELECT pg_notify('crm_events', '42')")
            finally:
                await other.close()
            assert await listener.wait(3) is True
        finally:
            events.unsubscribe(listener)


@pytest.mark.skipif(not IS_POSTGRES, reason="transaction ids are PostgreSQL's, cluster-wide")
async def test_a_long_transaction_in_another_database_does_not_hold_the_feed_back() -> None:
    admin = await viewer_of((await make_user("root", superadmin=True)).id)
    assert admin is not None
    company = await make_company("Acme")
    # A transaction with an id, open in another database of the same cluster.
    maintenance = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    other = await asyncpg.connect(maintenance)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.fetchval("SELECT txid_current()")
        event_id = await events.record(
            None, EventObjectType.COMPANY, company.id, EventAction.UPDATE, {}, None
        )
        assert [e.id for e in await visible_events(admin, None, None, 10)] == [event_id]
        await transaction.rollback()
    finally:
        await other.close()
