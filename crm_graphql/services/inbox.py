"""The reference mailbox poller (SPEC §7 "Inbound"): replies carrying `[Lead#<id>]` are
filed into that lead — the text as an activity, the attachments as lead files — exactly
once, even when the process dies at any step.

How once is kept:
- every message dealt with is a row keyed by (UIDVALIDITY, UID) — written in the same
  transaction as the activity and files, so either all of it exists or none does;
- only then is the message flagged `$CrmFiled` on the server; a process killed between
  the commit and the flag finds the row on the next pass and only flags;
- a message already filed under its Message-ID (the mailbox was rebuilt, UIDVALIDITY
  changed) is not filed again;
- one poller runs at a time across processes: a lease on the `mailbox_state` row taken
  with a conditional UPDATE.
Messages that are not ours to file (no token, our own copy through the CC, an unknown
lead, a sender who cannot know the lead, malformed, too large) are recorded with the
reason, logged, and left untouched in the mailbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import Lead, LeadActivityKind, LeadHistoryKind
from crm_graphql.models.mail import InboundMail, InboundState, MailboxState
from crm_graphql.models.setup import CrmSetup
from crm_graphql.services import files, leads, outbox
from crm_graphql.services.database import database_now
from crm_graphql.services.imap import Mailbox, MailboxError, MessageNotFound, MessageTooLarge
from crm_graphql.services.mailmessages import InboundMessage, MalformedMessage, parse_inbound
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql.inbox")

STATE_ID = 1
LEASE_SECONDS = 300
MAX_MESSAGE_BYTES = 50 * 1_048_576

# (lead, sender address) -> may this sender write into this lead?
SenderCheck = Callable[[Lead, str], Awaitable[bool]]
# Called with "fetched", "written", "flagged" after each step (tests simulate a crash).
Checkpoint = Callable[[str], None]


@dataclass
class PollReport:
    filed: int = 0
    skipped: int = 0
    flagged_again: int = 0
    busy: bool = False
    error: str | None = None
    reasons: list[str] = field(default_factory=list)


async def _state() -> MailboxState:
    found = await MailboxState.filter(id=STATE_ID).first()
    if found is not None:
        return found
    try:
        async with in_transaction():
            return await MailboxState.create(id=STATE_ID)
    except IntegrityError:  # another process created it first
        return await MailboxState.get(id=STATE_ID)


async def take_lease(holder: str) -> bool:
    await _state()
    now = await database_now()  # one clock for every machine
    taken = await MailboxState.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_holder=holder),
        id=STATE_ID,
    ).update(lease_holder=holder, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    return taken == 1


async def release_lease(holder: str) -> None:
    await MailboxState.filter(id=STATE_ID, lease_holder=holder).update(
        lease_holder="", lease_until=None
    )


async def _record_skip(
    report: PollReport,
    uidvalidity: int,
    uid: int,
    message_id: str,
    reason: str,
    lead_id: int | None,
) -> None:
    log.info("mailbox message %s/%s left alone: %s", uidvalidity, uid, reason)
    report.skipped += 1
    report.reasons.append(reason)
    try:
        async with in_transaction():
            await InboundMail.create(
                uidvalidity=uidvalidity,
                uid=uid,
                message_id=message_id[:255],
                lead_id=lead_id,
                state=InboundState.SKIPPED,
                reason=reason[:2000],
            )
    except IntegrityError:
        pass  # another pass recorded it


async def _file(
    message: InboundMessage, lead: Lead, uidvalidity: int, uid: int, config: Settings
) -> None:
    """Activity, files, history and the InboundMail row: one transaction."""
    async with files.file_transaction():
        await leads.add_activity(
            lead,
            None,
            message.text.strip() or "(no text)",
            kind=LeadActivityKind.MAIL_RECEIVED,
            sender=message.sender,
            subject=message.subject,
        )
        for attachment in message.attachments:
            await files.store(
                FileOwner.LEAD,
                lead.id,
                None,
                attachment.data,
                attachment.filename,
                attachment.content_type,
                f"Received by e-mail from {message.sender}"[:255],
                None,
                config=config,
            )
        await leads.add_history(
            lead.id,
            None,
            LeadHistoryKind.MAIL_RECEIVED,
            f"Mail received from {message.sender}: {message.subject}"[:2000],
        )
        await InboundMail.create(
            uidvalidity=uidvalidity,
            uid=uid,
            message_id=(message.message_id or "")[:255],
            lead_id=lead.id,
            state=InboundState.FILED,
        )
        await MailboxState.filter(id=STATE_ID).update(filed_total=F("filed_total") + 1)


async def _one(
    box: Mailbox,
    uid: int,
    report: PollReport,
    may_know: SenderCheck,
    config: Settings,
    checkpoint: Checkpoint,
) -> None:
    validity = box.uidvalidity
    known = await InboundMail.filter(uidvalidity=validity, uid=uid).first()
    if known is not None:
        if known.state == InboundState.FILED:
            # Filed by a pass that died before flagging it: flag only.
            await box.mark_processed(uid)
            report.flagged_again += 1
        return
    try:
        raw = await box.fetch(uid, max_bytes=MAX_MESSAGE_BYTES)
    except MessageTooLarge as exc:
        await _record_skip(report, validity, uid, "", str(exc), None)
        return
    except MessageNotFound:
        return  # expunged meanwhile
    checkpoint("fetched")
    try:
        message = parse_inbound(
            raw, own_origin=outbox.origin(), max_attachment_bytes=config.limits.max_upload_bytes
        )
    except MalformedMessage as exc:
        await _record_skip(report, validity, uid, "", f"malformed: {exc.reason}", None)
        return
    message_id = message.message_id or ""
    reason = message.skipped_reason
    lead = None
    if reason is None:
        lead = await Lead.filter(id=message.lead_id).first()
        if lead is None:
            reason = f"no lead {message.lead_id}"
    if (
        reason is None
        and message_id
        and await InboundMail.filter(message_id=message_id, state=InboundState.FILED).exists()
    ):
        reason = f"already filed under Message-ID {message_id}"
    if reason is None and lead is not None and not await may_know(lead, message.sender):
        reason = f"sender {message.sender} cannot know lead {lead.id}"
    if reason is not None or lead is None:
        await _record_skip(
            report, validity, uid, message_id, reason or "", lead.id if lead is not None else None
        )
        return
    try:
        await _file(message, lead, validity, uid, config)
    except IntegrityError:
        return  # another poller filed it (lease lost): its row stands
    checkpoint("written")
    await box.mark_processed(uid)
    report.filed += 1
    checkpoint("flagged")


async def poll_once(
    setup: CrmSetup,
    *,
    may_know: SenderCheck,
    config: Settings,
    holder: str = outbox.WORKER,
    checkpoint: Checkpoint = lambda step: None,
) -> PollReport:
    """One pass over the reference mailbox. Never raises for mailbox trouble: the reason
    is in the report, the mail status and the log."""
    report = PollReport()
    if not (setup.imap_host and setup.imap_username):
        report.error = "IMAP is not configured"
        return report
    if not await take_lease(holder):
        report.busy = True
        return report
    now = datetime.now(UTC)
    await MailboxState.filter(id=STATE_ID).update(last_poll_at=now)
    try:
        async with Mailbox(
            setup.imap_host,
            setup.imap_port,
            setup.imap_username,
            setup.imap_password,
            ssl=setup.imap_ssl,
        ) as box:
            for uid in await box.unprocessed_uids():
                await _one(box, uid, report, may_know, config, checkpoint)
        await MailboxState.filter(id=STATE_ID).update(last_success_at=now, last_error="")
    except (MailboxError, OSError, TimeoutError) as exc:
        report.error = str(exc) or type(exc).__name__
        log.warning("reference mailbox: %s", exc)
        await MailboxState.filter(id=STATE_ID).update(last_error=report.error[:2000])
    finally:
        await release_lease(holder)
    return report
