"""The lead mail background work of a server process: the outbox sender and the
reference mailbox poller, started by the app's lifespan (`CRM_MAIL_WORKERS`, on by
default) and run once by `crm-graphql mail send|poll`.

This module sits beside app.py because the poller needs the lead access rule (who may
write into a lead), which the services layer below permissions cannot import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.leads import Lead
from crm_graphql.models.mail import OutgoingMail
from crm_graphql.models.users import User
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services import inbox, outbox
from crm_graphql.services.auth import Viewer, user_bits
from crm_graphql.services.setup import get_setup
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql.mailworkers")


async def sender_may_know(lead: Lead, sender: str) -> bool:
    """A reply may be filed into a lead when it comes from the lead's own address, from
    an address the lead's mail went to, or from an enabled user who can see the lead."""
    address = sender.strip().lower()
    if not address:
        return False
    if lead.email and lead.email.lower() == address:
        return True
    for recipients in await OutgoingMail.filter(lead_id=lead.id).values_list(
        "recipients", flat=True
    ):
        if address in {str(r).lower() for r in recipients or []}:
            return True
    for user in await User.filter(email__iexact=address, enabled=True).select_related("company"):
        viewer = Viewer(user, await user_bits(user.id), 0, TokenKind.SESSION, TokenScope.FULL)
        if await Lead.filter(visible_leads_q(viewer), id=lead.id).exists():
            return True
    return False


async def send_pass() -> outbox.SendReport:
    return await outbox.send_due(await get_setup())


async def poll_pass(config: Settings) -> inbox.PollReport:
    return await inbox.poll_once(await get_setup(), may_know=sender_may_know, config=config)


async def _sender_loop(config: Settings) -> None:
    while True:
        # Cleared before the pass, not after: mail queued while a pass runs (after its
        # query for due mail) wakes the next pass at once instead of being forgotten.
        outbox.wake.clear()
        try:
            report = await send_pass()
            if report.sent or report.retried or report.failed:
                log.info("outbox: %s", report)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("outbox pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outbox.wake.wait(), config.mail_send_interval)


async def _poller_loop(config: Settings) -> None:
    while True:
        try:
            report = await poll_pass(config)
            if report.filed or report.error:
                log.info("mailbox: filed %s, error %s", report.filed, report.error)
        except Exception:
            log.exception("mailbox pass failed")
        try:
            interval = (await get_setup()).mail_poll_seconds
        except Exception:  # the database is away: try again later
            interval = 300
        await asyncio.sleep(max(interval, 10))


@contextlib.asynccontextmanager
async def running(config: Settings) -> AsyncIterator[None]:
    """Run both loops while the app runs (when enabled)."""
    if not config.mail_workers:
        yield
        return
    tasks = [
        asyncio.create_task(_sender_loop(config), name="outbox"),
        asyncio.create_task(_poller_loop(config), name="mailbox"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
