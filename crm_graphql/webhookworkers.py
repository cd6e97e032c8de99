"""The webhook delivery loop of a server process (issue 16), started by the app's
lifespan (`CRM_WEBHOOK_WORKERS`, on by default).

It sits beside app.py, like mailworkers.py, because delivery reads the event log
through the access rule (`permissions/webhooks.OwnerEvents`, with each webhook owner's
Viewer), which the services layer below permissions cannot import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from crm_graphql.permissions.webhooks import OwnerEvents
from crm_graphql.services import events, webhook_delivery
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql.webhooks")

_source = OwnerEvents()


async def deliver_pass(config: Settings) -> int:
    """One pass over every due webhook (also `crm-graphql`-free tests call it)."""
    return await webhook_delivery.run_due(_source, config)


async def _loop(config: Settings) -> None:
    # Subscribed before the first pass: a commit between a pass's read and the wait
    # below still wakes it (the listener keeps the flag).
    listener = events.subscribe()
    try:
        while True:
            try:
                await deliver_pass(config)
                interval = await webhook_delivery.next_due_in(config)
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("webhook pass failed")
                interval = min(5.0, config.webhook_poll_seconds)
            await listener.wait(interval)
    finally:
        events.unsubscribe(listener)


@contextlib.asynccontextmanager
async def running(config: Settings) -> AsyncIterator[None]:
    """Run the delivery loop while the app runs (when enabled)."""
    if not config.webhook_workers:
        yield
        return
    task = asyncio.create_task(_loop(config), name="webhooks")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
