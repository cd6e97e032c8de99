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
# Passes start at most this often: under a stream of commits (each one a wake-up) the
# loop batches them instead of querying for due webhooks after every one.
MIN_GAP_SECONDS = 0.2


async def deliver_pass(config: Settings) -> int:
    """One pass over every due webhook (tests call it directly)."""
    return await webhook_delivery.run_due(_source, config)


async def _loop(config: Settings) -> None:
    # Subscribed before the first pass: a commit between a pass's read and the wait
    # below still wakes it (the listener keeps the flag).
    listener = events.subscribe()
    try:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await deliver_pass(config)
                interval = await webhook_delivery.next_due_in(config)
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("webhook pass failed")
                interval = min(5.0, config.webhook_poll_seconds)
            await listener.wait(interval)
            gap = MIN_GAP_SECONDS - (loop.time() - started)
            if gap > 0:
                await asyncio.sleep(gap)
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
