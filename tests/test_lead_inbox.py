"""The reference mailbox poller against a real Dovecot (started by the tests): replies
filed into leads with their attachments, our own copies and strangers' mail left alone,
exactly once even when the poller dies at any step, one poller at a time, and mailbox
trouble reported without crashing."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from crm_graphql import mailworkers
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.leads import LeadActivity, LeadHistory
from crm_graphql.models.mail import InboundMail, InboundState, MailboxState
from crm_graphql.services import inbox, outbox
from crm_graphql.services.imap import FILED
from crm_graphql.services.setup import get_setup
from crm_graphql.settings import settings
from tests.factories import Api, company_id
from tests.leads_api import REFERENCE, SEND, prospect
from tests.mailservers import DovecotServer, SmtpServer
from tests.uvicorn_servers import run

PROSPECT = "ramon@prospect.example"


class Killed(BaseException):
    """Stands for the process dying: no `except Exception` handler catches it."""


async def configure(
    api: Api, imap: DovecotServer, smtp: SmtpServer | None = None, **more: Any
) -> None:
    version = (await api.data("{ crmSetup { version } }", as_user="admin"))["crmSetup"]["version"]
    values = {"version": version, "imapHost": imap.host, "imapPort": imap.port,
              "imapUsername": imap.user, "imapPassword": imap.password,
              "mailReferenceAddress": REFERENCE, **more}  # fmt: skip
    if smtp is not None:
        values.update({"smtpHost": smtp.host, "smtpPort": smtp.port})
    body = await api.data(
        "mutation($i: CrmSetupUpdateInput!) { crmSetupUpdate(input: $i) { errors { field } } }",
        {"i": values},
        as_user="admin",
    )
    assert body["crmSetupUpdate"]["errors"] == []


def reply(
    lead_id: int | str,
    text: str = "Thanks, send me the offer.",
    *,
    sender: str = PROSPECT,
    subject: str | None = None,
    html_only: bool = False,
    files: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Ramon Guy <{sender}>"
    message["To"] = "user1@example.com"
    message["Cc"] = REFERENCE
    message["Subject"] = subject or f"Re: [Lead#{lead_id}] Commercial information"
    message["Message-ID"] = make_msgid(domain="prospect.example")
    if html_only:
        message.set_content(f"<html><body><p>{text}</p></body></html>", subtype="html")
    else:
        message.set_content(text)
    for name, data in files:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return message.as_bytes()


async def poll(**kw: Any) -> inbox.PollReport:
    kw.setdefault("config", settings)
    return await inbox.poll_once(await get_setup(), may_know=mailworkers.sender_may_know, **kw)


async def received(lead_id: int | str) -> list[LeadActivity]:
    return await LeadActivity.filter(lead_id=int(lead_id), kind="MAIL_RECEIVED").order_by("id")


async def test_a_reply_is_filed_with_its_attachment_once(demo: Api, dovecot: DovecotServer) -> None:
    # Given the mailbox configured and a lead of user1's
    await configure(demo, dovecot)
    lead = await prospect(demo, fullName="Ramon Guy")
    # When the prospect's reply, with a PDF, lands in the reference mailbox
    uid = await dovecot.append(reply(lead["id"], files=(("signed.pdf", b"%PDF-1.4 signed"),)))
    report = await poll()
    # Then it is one activity, one lead file and one history line
    assert (report.filed, report.skipped, report.error) == (1, 0, None)
    (activity,) = await received(lead["id"])
    assert activity.sender == PROSPECT
    assert activity.subject == f"Re: [Lead#{lead['id']}] Commercial information"
    assert activity.text == "Thanks, send me the offer."
    (stored,) = await StoredFile.filter(owner_kind=FileOwner.LEAD, owner_id=int(lead["id"]))
    assert (stored.original_name, stored.size) == ("signed.pdf", len(b"%PDF-1.4 signed"))
    history = await LeadHistory.get(lead_id=lead["id"], kind="MAIL_RECEIVED")
    assert history.description.startswith(f"Mail received from {PROSPECT}")
    # and the message is flagged on the server, so the next pass leaves it
    assert FILED in (await dovecot.flags(uid) or set())
    assert (await poll()).filed == 0
    assert len(await received(lead["id"])) == 1
    # the activity shows over HTTP to those who see the lead
    data = await demo.data(
        "query($id: ID!) { lead(id: $id) { activities { edges { node { kind sender } } } } }",
        {"id": lead["id"]}, as_user="user1",
    )  # fmt: skip
    assert data["lead"]["activities"]["edges"] == [
        {"node": {"kind": "MAIL_RECEIVED", "sender": PROSPECT}}
    ]


async def test_an_html_only_reply_becomes_text(demo: Api, dovecot: DovecotServer) -> None:
    await configure(demo, dovecot)
    lead = await prospect(demo)
    await dovecot.append(reply(lead["id"], "Yes <b>please</b> &amp; thanks", html_only=True))
    assert (await poll()).filed == 1
    (activity,) = await received(lead["id"])
    assert activity.text == "Yes please & thanks"


async def test_our_own_copy_and_strangers_are_left_alone(
    demo: Api, dovecot: DovecotServer, smtp_server: SmtpServer
) -> None:
    await configure(demo, dovecot, smtp_server)
    lead = await prospect(demo)
    # our own message, as the CC brings it back into the mailbox
    sent = await demo.data(
        SEND, {"i": {"leadId": lead["id"], "subject": "Offer", "bodyHtml": "<p>Offer</p>"}},
        as_user="user1",
    )  # fmt: skip
    assert sent["leadSendEmail"]["errors"] == []
    await outbox.send_due(await get_setup())
    (copy,) = await smtp_server.wait_for(1)
    uids = [await dovecot.append(copy.raw)]
    # no token; an unknown lead; a sender who cannot know the lead
    uids.append(await dovecot.append(reply(lead["id"], subject="Hello there")))
    uids.append(await dovecot.append(reply(999999)))
    uids.append(await dovecot.append(reply(lead["id"], sender="someone@elsewhere.example")))
    report = await poll()
    assert (report.filed, report.skipped) == (0, 4)
    assert report.reasons == [
        "our own copy (origin header)",
        "no [Lead#<id>] token in the subject",
        "no lead 999999",
        f"sender someone@elsewhere.example cannot know lead {lead['id']}",
    ]
    assert await received(lead["id"]) == []
    for uid in uids:  # untouched on the server
        assert FILED not in (await dovecot.flags(uid) or set())
    assert await dovecot.count() == 4
    # the next pass does not read them again
    assert (await poll()).skipped == 0


async def test_a_colleague_who_sees_the_lead_may_write_into_it(
    demo: Api, dovecot: DovecotServer
) -> None:
    await configure(demo, dovecot)
    lead = await prospect(demo, companyId=await company_id("Customer #A"))
    await dovecot.append(reply(lead["id"], "Met them today.", sender="manager1@example.com"))
    await dovecot.append(reply(lead["id"], "Not mine.", sender="user2@example.com"))
    report = await poll()
    assert (report.filed, report.skipped) == (1, 1)
    assert [a.text for a in await received(lead["id"])] == ["Met them today."]


async def test_oversized_and_malformed_messages_are_skipped_with_a_reason(
    demo: Api, dovecot: DovecotServer
) -> None:
    await configure(demo, dovecot)
    lead = await prospect(demo)
    small = dataclasses.replace(
        settings, limits=dataclasses.replace(settings.limits, max_upload_bytes=1000)
    )
    big = await dovecot.append(reply(lead["id"], files=(("huge.pdf", b"x" * 5000),)))
    report = await poll(config=small)
    assert (report.filed, report.skipped) == (0, 1)
    assert "huge.pdf" in report.reasons[0]
    assert FILED not in (await dovecot.flags(big) or set())
    assert await StoredFile.filter(owner_kind=FileOwner.LEAD).count() == 0
    # a message without a From address cannot be filed: skipped, left in the mailbox
    nameless = f"To: {REFERENCE}\r\nSubject: [Lead#{lead['id']}] hi\r\n\r\nbody\r\n"
    broken = await dovecot.append(nameless.encode())
    report = await poll()
    assert report.reasons == ["malformed: no From address"]
    assert FILED not in (await dovecot.flags(broken) or set())
    assert await received(lead["id"]) == []


@pytest.mark.parametrize(
    "crashes",
    [
        # the step at which each pass dies; a last pass then runs clean
        ["fetched", "written", "flagged", "written"],
        ["written", "written", "written"],
        ["flagged", "fetched", "flagged"],
    ],
)
async def test_killed_at_any_step_every_message_is_filed_exactly_once(
    demo: Api, dovecot: DovecotServer, crashes: list[str]
) -> None:
    # Given three replies in the mailbox
    await configure(demo, dovecot)
    lead = await prospect(demo)
    uids = [await dovecot.append(reply(lead["id"], f"Reply {n}")) for n in range(3)]
    died: list[str] = []

    # When each pass dies at its planned step (after the fetch, after the commit, after
    # the flag), then a last pass runs clean
    for step in crashes:

        def checkpoint(reached: str, step: str = step) -> None:
            if reached == step:
                died.append(step)
                raise Killed(step)

        with pytest.raises(Killed):
            await poll(checkpoint=checkpoint)
    await poll()
    assert died == crashes
    # Then each message is one activity, one filed row, and flagged
    assert sorted(a.text for a in await received(lead["id"])) == [f"Reply {n}" for n in range(3)]
    assert await InboundMail.filter(state=InboundState.FILED).count() == 3
    assert await LeadHistory.filter(lead_id=lead["id"], kind="MAIL_RECEIVED").count() == 3
    for uid in uids:
        assert FILED in (await dovecot.flags(uid) or set())
    assert (await MailboxState.get(id=1)).filed_total == 3


async def test_one_poller_at_a_time(demo: Api, dovecot: DovecotServer) -> None:
    await configure(demo, dovecot)
    lead = await prospect(demo)
    for n in range(5):
        await dovecot.append(reply(lead["id"], f"Reply {n}"))
    first, second = await asyncio.gather(poll(holder="one"), poll(holder="two"))
    assert first.filed + second.filed == 5
    assert len(await received(lead["id"])) == 5
    # a lease left by a dead process blocks others until it expires
    assert await inbox.take_lease("dead")
    assert (await poll(holder="alive")).busy
    await MailboxState.filter(id=1).update(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    assert not (await poll(holder="alive")).busy


async def test_an_unreachable_or_refusing_mailbox_is_reported_not_fatal(
    demo: Api, dovecot: DovecotServer
) -> None:
    await configure(demo, dovecot, imapPassword="wrong")
    report = await poll()
    assert report.error and "login" in report.error.lower()
    status = await demo.data("{ mailStatus { lastError imapConfigured } }", as_user="admin")
    assert status["mailStatus"]["imapConfigured"] is True
    assert "login" in status["mailStatus"]["lastError"].lower()
    dovecot.stop()
    try:
        await configure(demo, dovecot)
        report = await poll()
        assert report.error
        assert (await MailboxState.get(id=1)).last_error
    finally:
        dovecot.start()
    # once it is back, the next pass works and clears the error
    lead = await prospect(demo)
    await dovecot.append(reply(lead["id"]))
    assert (await poll()).filed == 1
    status = await demo.data("{ mailStatus { lastError filedTotal } }", as_user="admin")
    assert status["mailStatus"] == {"lastError": "", "filedTotal": 1}


async def test_the_mail_commands_run_one_pass(
    demo: Api, dovecot: DovecotServer, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    await configure(demo, dovecot, smtp_server)
    lead = await prospect(demo)
    await dovecot.append(reply(lead["id"]))
    polled = await asyncio.to_thread(run, "mail", "poll", tmp_path=tmp_path)
    last = polled.stdout.strip().splitlines()[-1]  # after the migration line
    assert (polled.returncode, last) == (0, "Filed 1, left alone 0."), polled
    assert len(await received(lead["id"])) == 1
    again = await asyncio.to_thread(run, "mail", "poll", tmp_path=tmp_path)
    assert again.stdout.strip().endswith("Filed 0, left alone 0.")
    queued = await demo.data(
        SEND, {"i": {"leadId": lead["id"], "subject": "Hi", "bodyHtml": "<p>Hi</p>"}},
        as_user="user1",
    )  # fmt: skip
    assert queued["leadSendEmail"]["errors"] == []
    sent = await asyncio.to_thread(run, "mail", "send", tmp_path=tmp_path)
    assert sent.stdout.strip().endswith("Sent 1, deferred 0, failed 0."), sent
    assert len(await smtp_server.wait_for(1)) == 1
    await configure(demo, dovecot, imapPassword="wrong")
    refused = await asyncio.to_thread(run, "mail", "poll", tmp_path=tmp_path)
    assert refused.returncode == 1 and "Mailbox problem" in refused.stderr
