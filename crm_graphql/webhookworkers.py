"""The webhook delivery loop of a server process (issue 16), started by the app's
lifespan (`CRM_WEBHOOK_WORKERS`, on by default).

It sits beside app.py, like mailworkers.py, because delivery reads the event log
through the access rule (`permissions/events.visible_events` with each webhook owner's
Viewer), which the services layer below permissions cannot import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from crm_graphql.services import webhook_delivery
from crm_graphql.services.auth import Viewer
from crm_graphql.services.webhook_delivery import EventLike
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql.webhooks")

# Set by webhookRedeliver and re-enabling (in this process): the loop runs at once.
wake = asyncio.Event()


class _NoEvents:
    async def after(
        self, viewer: Viewer, position: int | None, types: Sequence[str], limit: int
    ) -> Sequence[EventLike]:
        return []

    async def one(self, viewer: Viewer, event_id: int, object_type: str) -> EventLike | None:
        return None


async def deliver_pass(config: Settings) -> int:
    return await webhook_delivery.run_due(_NoEvents(), config)


async def _loop(config: Settings) -> None:
    while True:
        wake.clear()
        try:
            await deliver_pass(config)
            interval = await webhook_delivery.next_due_in(config)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("webhook pass failed")
            interval = min(5.0, config.webhook_poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)


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
