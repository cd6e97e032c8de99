"""The outbox: outgoing mail is a row written in the mutation's transaction, delivered
later by a sender with aiosmtplib, retried with backoff, its state visible.

Several server processes may run a sender: a message is taken with a conditional
UPDATE (a compare-and-set on its claim), so only one process delivers it. A process that
dies after the SMTP server accepted a message but before recording it would let the
claim expire and the message go again: delivery is at least once, and the claim window
(`CLAIM_SECONDS`) bounds how soon.

Claims compare the database's clock (`database_now`), not each machine's. Each claim
carries its own token (`claimed_by`), and a result is recorded only under that token: a
sender whose claim ran out during a slow SMTP exchange, and was taken over, leaves the
row to the new owner."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from tortoise.expressions import F, Q

from crm_graphql.models.mail import OutgoingMail, OutgoingState
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services.database import database_now
from crm_graphql.services.orm import column_values
from crm_graphql.services.smtp import DeliveryError, deliver
from crm_graphql.settings import settings

log = logging.getLogger("crm_graphql.outbox")

CLAIM_SECONDS = 120
MAX_ATTEMPTS = 10
BATCH = 50
# This process's name on the rows it claims (with a token per claim after it).
WORKER = f"{socket.gethostname()}:{os.getpid()}"[:47]

# Set after a commit that queued mail, so the sender runs without waiting its interval.
wake = asyncio.Event()


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... at most an hour between attempts."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def origin() -> str:
    """The value of our origin header: the same for every process of one installation."""
    return "crm-graphql-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]


async def enqueue(
    message: EmailMessage, *, sender: User | None, lead_id: int | None = None
) -> OutgoingMail:
    """Store the message for delivery (call inside the mutation's transaction)."""
    recipients = [
        a
        for header in ("To", "Cc")
        for value in message.get_all(header, [])
        for a in str(value).split(",")
        if a.strip()
    ]
    return await OutgoingMail.create(
        lead_id=lead_id,
        sender_id=sender.id if sender else None,
        mail_from=str(message["From"]),
        recipients=[r.strip() for r in recipients],
        subject=str(message["Subject"] or ""),
        message_id=str(message["Message-ID"] or ""),
        content=message.as_bytes(policy=policy.SMTP),
        next_attempt_at=await database_now(),
    )


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def claim_token() -> str:
    """Who holds a claim: this process, and which claim of it."""
    return f"{WORKER}/{secrets.token_hex(8)}"


async def _claim(mail_id: int) -> str | None:
    """Take the message for CLAIM_SECONDS of database time; the claim's token, or None
    when another sender holds it."""
    now = await database_now()
    token = claim_token()
    taken = await OutgoingMail.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        id=mail_id,
        state=OutgoingState.QUEUED,
    ).update(claimed_by=token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    return token if taken == 1 else None


async def send_due(setup: CrmSetup, *, limit: int = BATCH) -> SendReport:
    """Deliver the queued messages that are due, oldest first; each claimed alone."""
    report = SendReport()
    if not setup.smtp_host:
        return report  # nowhere to send yet: mail waits
    now = await database_now()
    due = await column_values(
        OutgoingMail.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            state=OutgoingState.QUEUED,
            next_attempt_at__lte=now,
        )
        .order_by("id")
        .limit(limit),
        "id",
    )
    for mail_id in due:
        token = await _claim(int(mail_id))
        if token is None:
            continue  # another process took it
        row = await OutgoingMail.get(id=mail_id)
        await _attempt(row, setup, report, token)
    return report


async def _attempt(row: OutgoingMail, setup: CrmSetup, report: SendReport, token: str) -> None:
    message = BytesParser(policy=policy.SMTP).parsebytes(bytes(row.content))
    try:
        refused = await deliver(
            message,
            host=setup.smtp_host,
            port=setup.smtp_port,
            username=setup.smtp_username or None,
            password=setup.smtp_password or None,
            use_tls=setup.smtp_security == "TLS",
            start_tls=setup.smtp_security == "STARTTLS",
        )
    except DeliveryError as exc:
        attempts = row.attempts + 1
        final = exc.permanent or attempts >= MAX_ATTEMPTS
        now = await database_now()
        kept = await OutgoingMail.filter(id=row.id, claimed_by=token).update(
            attempts=F("attempts") + 1,
            last_error=exc.reason[:2000],
            state=OutgoingState.FAILED if final else OutgoingState.QUEUED,
            next_attempt_at=now + backoff(attempts),
            claimed_until=None,
        )
        if not kept:
            log.warning("mail %s: claim lost during delivery; its new owner records it", row.id)
            return
        log.warning("mail %s %s: %s", row.id, "failed" if final else "deferred", exc.reason)
        if final:
            report.failed += 1
        else:
            report.retried += 1
        return
    # Accepted for some recipients: sent, with the refusals kept as the error to read.
    refusals = "; ".join(f"{address}: {reply}" for address, reply in refused.items())
    now = await database_now()
    recorded = await OutgoingMail.filter(id=row.id, claimed_by=token).update(
        attempts=F("attempts") + 1,
        state=OutgoingState.SENT,
        sent_at=now,
        last_error=f"refused recipients: {refusals}"[:2000] if refusals else "",
        claimed_until=None,
    )
    if not recorded:
        # The claim ran out mid-delivery and another sender took the message: it may go
        # twice (at least once), but its row is the new owner's to record.
        log.warning("mail %s: sent, but the claim had been taken over", row.id)
        return
    report.sent += 1


async def retry_now(mail_id: int) -> int:
    """Put a failed or waiting message back at the head of the queue."""
    return await OutgoingMail.filter(
        id=mail_id, state__in=[OutgoingState.FAILED, OutgoingState.QUEUED]
    ).update(state=OutgoingState.QUEUED, next_attempt_at=await database_now(), claimed_until=None)
