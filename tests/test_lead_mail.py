"""Lead e-mail over HTTP with a real SMTP server (aiosmtpd on loopback): replies and
forwards, CRM templates, the outbox's retries and exactly-once delivery, header
injection refused, and who may send."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_graphql import mailworkers
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead, LeadActivity, LeadHistory
from crm_graphql.models.mail import MailTemplate, OutgoingMail, OutgoingState
from crm_graphql.services import outbox
from crm_graphql.services.setup import get_setup
from crm_graphql.settings import settings
from tests.factories import Api, error_codes
from tests.mailservers import SmtpServer
from tests.test_leads import create

REFERENCE = "crm-inbox@ourco.example"
SEND = """mutation($i: LeadSendEmailInput!) { leadSendEmail(input: $i) {
  outgoingMail { id state subject recipients } lead { id }
  errors { field code message } } }"""


async def configure(api: Api, smtp: SmtpServer) -> None:
    version = (await api.data("{ crmSetup { version } }", as_user="admin"))["crmSetup"]["version"]
    body = await api.data(
        "mutation($i: CrmSetupUpdateInput!) { crmSetupUpdate(input: $i) { errors { field } } }",
        {"i": {"version": version, "smtpHost": smtp.host, "smtpPort": smtp.port,
               "smtpSecurity": "NONE", "mailReferenceAddress": REFERENCE}},
        as_user="admin",
    )  # fmt: skip
    assert body["crmSetupUpdate"]["errors"] == []


async def send_due() -> outbox.SendReport:
    return await outbox.send_due(await get_setup())


async def prospect(api: Api, user: str = "user1", **values: Any) -> dict[str, Any]:
    values.setdefault("email", "ramon@prospect.example")
    values.setdefault("language", "en")
    return await create(api, user, **values)


def attach(variables: dict[str, Any], files: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    """httpx arguments for a leadSendEmail multipart request with attachments."""
    variables["i"]["attachments"] = [None] * len(files)
    mapping = {str(n): [f"variables.i.attachments.{n}"] for n in range(len(files))}
    return {
        "data": {
            "operations": json.dumps({"query": SEND, "variables": variables}),
            "map": json.dumps(mapping),
        },
        "files": {str(n): f for n, f in enumerate(files)},
    }


async def test_reply_goes_out_with_token_cc_text_alternative_and_attachments(
    demo: Api, smtp_server: SmtpServer
) -> None:
    # Given SMTP and the reference mailbox configured, and user1's own lead
    await configure(demo, smtp_server)
    lead = await prospect(demo, fullName="Ramon Guy")
    # When user1 replies with a copy and a file
    variables = {"i": {"leadId": lead["id"], "subject": "Commercial information",
                       "bodyHtml": "<p>Hello <b>Ramon</b>,</p><p>our offer.</p>",
                       "cc": ["boss@ourco.example"]}}  # fmt: skip
    response = await demo.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {demo.tokens['user1']}"},
        **attach(variables, [("offer.pdf", b"%PDF-1.4 offer", "application/pdf")]),
    )
    payload = response.json()["data"]["leadSendEmail"]
    assert payload["errors"] == []
    assert payload["outgoingMail"]["state"] == "QUEUED"
    subject = f"[Lead#{lead['id']}] Commercial information"
    assert payload["outgoingMail"]["subject"] == subject
    # Then the sender delivers it once
    assert (await send_due()).sent == 1
    (mail,) = await smtp_server.wait_for(1)
    message = mail.message
    assert message["From"].addresses[0].addr_spec == "user1@example.com"
    assert str(message["To"]) == "ramon@prospect.example"
    assert {a.addr_spec for a in message["Cc"].addresses} == {"boss@ourco.example", REFERENCE}
    assert str(message["Subject"]) == subject
    assert message["X-CRM-Origin"] == outbox.origin()
    assert sorted(mail.rcpt_tos) == sorted(
        ["ramon@prospect.example", "boss@ourco.example", REFERENCE]
    )
    assert "Hello Ramon" in message.get_body(("plain",)).get_content()
    assert "<b>Ramon</b>" in message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "offer.pdf"
    assert attachment.get_content() == b"%PDF-1.4 offer"
    # and the lead records it: activity, history, the file, and the updated lead
    activity = await LeadActivity.get(lead_id=lead["id"], kind="MAIL_SENT")
    assert activity.subject == subject and "our offer." in activity.text
    history = await LeadHistory.get(lead_id=lead["id"], kind="MAIL_SENT")
    assert history.description == f"Mail sent to ramon@prospect.example: {subject}"
    files = await demo.data(
        "query($id: ID!) { lead(id: $id) { files { edges { node { originalName } } } } }",
        {"id": lead["id"]}, as_user="user1",
    )  # fmt: skip
    assert files["lead"]["files"]["edges"] == [{"node": {"originalName": "offer.pdf"}}]
    listed = await demo.data("{ outgoingMails { edges { node { state attempts } } } }",
                             as_user="user1")  # fmt: skip
    assert listed["outgoingMails"]["edges"] == [{"node": {"state": "SENT", "attempts": 1}}]
    assert (await send_due()).sent == 0


async def test_only_the_owner_a_lead_manager_or_a_superadmin_send(
    demo: Api, smtp_server: SmtpServer
) -> None:
    await configure(demo, smtp_server)
    theirs = await prospect(
        demo, "manager1", companyId=str((await Company.get(name="Customer #B")).id)
    )
    mail = {"i": {"leadId": theirs["id"], "subject": "Hi", "bodyHtml": "<p>Hi</p>"}}
    # user1 sees the lead (a colleague's company) but does not own it
    assert error_codes(await demo.gql(SEND, mail, as_user="user1")) == ["FORBIDDEN"]
    assert error_codes(await demo.gql(SEND, mail, as_user="user2")) == ["FORBIDDEN"]
    own = await prospect(demo, "user1", companyId=str((await Company.get(name="Customer #A")).id))
    as_manager = await demo.data(
        SEND, {"i": {"leadId": own["id"], "subject": "Hi", "bodyHtml": "<p>Hi</p>"}},
        as_user="manager1",
    )  # fmt: skip
    assert as_manager["leadSendEmail"]["errors"] == []
    assert await OutgoingMail.all().count() == 1
    # what user1 may list: nothing of manager1's
    mine = await demo.data("{ outgoingMails { totalCount } }", as_user="user1")
    assert mine["outgoingMails"]["totalCount"] == 0


async def test_header_injection_and_bad_input_are_refused_and_nothing_is_queued(
    demo: Api, smtp_server: SmtpServer
) -> None:
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    for values, field in (
        ({"subject": "Hi\r\nBcc: victim@else.example", "bodyHtml": "x"}, "subject"),
        ({"subject": "Hi", "bodyHtml": "x", "cc": ["a@b.example\nBcc: c@d.example"]}, "cc"),
        ({"subject": "Hi", "bodyHtml": "x", "cc": ["not an address"]}, "cc"),
        ({"subject": "", "bodyHtml": "x"}, "subject"),
        ({"subject": "Hi", "bodyHtml": ""}, "bodyHtml"),
    ):
        body = await demo.data(SEND, {"i": {"leadId": lead["id"], **values}}, as_user="user1")
        errors = body["leadSendEmail"]["errors"]
        assert field in {e["field"] for e in errors}, (values, errors)
    # a NUL byte is refused before the mutation runs, naming the variable
    body = await demo.gql(
        SEND, {"i": {"leadId": lead["id"], "subject": "Hi\u0000", "bodyHtml": "x"}}, as_user="user1"
    )
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert "$i.subject" in body["errors"][0]["message"], body
    no_mail = await prospect(demo, email="", fullName="No mail")
    body = await demo.data(
        SEND, {"i": {"leadId": no_mail["id"], "subject": "Hi", "bodyHtml": "x"}}, as_user="user1"
    )
    assert body["leadSendEmail"]["errors"][0]["field"] == "leadId"
    forward = """mutation($id: ID!, $to: [String!]!) { leadForward(leadId: $id, to: $to) {
        errors { field code } } }"""
    body = await demo.data(forward, {"id": lead["id"], "to": ["x@y.example\r\nBcc: z@w.example"]},
                           as_user="user1")  # fmt: skip
    assert body["leadForward"]["errors"][0]["field"] == "to"
    assert await OutgoingMail.all().count() == 0
    assert await LeadActivity.all().count() == 0
    assert await LeadHistory.filter(kind__in=["MAIL_SENT", "FORWARDED"]).count() == 0


async def test_smtp_down_then_up_delivers_each_message_once(
    demo: Api, smtp_server: SmtpServer
) -> None:
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    smtp_server.stop()
    try:
        for n in range(3):
            body = await demo.data(
                SEND,
                {"i": {"leadId": lead["id"], "subject": f"Offer {n}", "bodyHtml": "<p>x</p>"}},
                as_user="user1",
            )  # fmt: skip
            assert body["leadSendEmail"]["errors"] == []
        # the server is down: every message waits, with its reason and a later attempt
        report = await send_due()
        assert (report.sent, report.retried) == (0, 3)
        rows = await OutgoingMail.all()
        assert {(r.state, r.attempts) for r in rows} == {(OutgoingState.QUEUED, 1)}
        assert all("connect" in r.last_error.lower() for r in rows)
        assert all(r.next_attempt_at > datetime.now(UTC) for r in rows)
        assert (await send_due()).retried == 0  # not due yet
        status = await demo.data("{ mailStatus { queued failed smtpConfigured } }", as_user="admin")
        assert status["mailStatus"] == {"queued": 3, "failed": 0, "smtpConfigured": True}
    finally:
        smtp_server.start()
    # when it is back and the messages are due, two senders at once deliver each once
    await OutgoingMail.all().update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    first, second = await asyncio.gather(send_due(), send_due())
    assert first.sent + second.sent == 3
    received = await smtp_server.wait_for(3)
    await asyncio.sleep(0.2)
    assert len(smtp_server.received) == 3
    assert sorted(str(m.message["Subject"]) for m in received) == [
        f"[Lead#{lead['id']}] Offer {n}" for n in range(3)
    ]
    assert {r.state for r in await OutgoingMail.all()} == {OutgoingState.SENT}
    assert (await send_due()).sent == 0


async def test_a_refused_message_fails_for_good_and_can_be_retried(
    demo: Api, smtp_server: SmtpServer
) -> None:
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    smtp_server.data_reply = "554 5.7.1 Message rejected"
    await demo.data(SEND, {"i": {"leadId": lead["id"], "subject": "Hi", "bodyHtml": "x"}},
                    as_user="user1")  # fmt: skip
    assert (await send_due()).failed == 1
    row = await OutgoingMail.get()
    assert row.state == OutgoingState.FAILED and "554" in row.last_error
    smtp_server.clear()
    retry = "mutation($id: ID!) { outgoingMailRetry(id: $id) { errors { code } } }"
    body = await demo.data(retry, {"id": str(row.id)}, as_user="user1")
    assert body["outgoingMailRetry"]["errors"] == []
    assert (await send_due()).sent == 1
    assert len(await smtp_server.wait_for(1)) == 1


async def test_templates_belong_to_a_company_and_fill_the_reply(
    demo: Api, smtp_server: SmtpServer
) -> None:
    await configure(demo, smtp_server)
    create_template = """mutation($i: CrmTemplateCreateInput!) { crmTemplateCreate(input: $i) {
        template { id name } errors { field code } } }"""
    made = await demo.data(
        create_template,
        {"i": {"name": "Welcome", "language": "en", "subject": "Welcome, _DEST_NAME_",
               "bodyHtml": "<p>Dear _DEST_NAME_ (_DEST_EMAIL_),</p><p>_SRC_NAME_ _SRC_EMAIL_</p>"}},
        as_user="manager1",
    )  # fmt: skip
    template = made["crmTemplateCreate"]["template"]
    stored = await MailTemplate.get(id=template["id"])
    assert stored.company_id == (await Company.get(name="My company")).id
    await demo.data(create_template, {"i": {"name": "Bienvenida", "language": "es"}},
                    as_user="manager1")  # fmt: skip
    refused = await demo.gql(create_template, {"i": {"name": "X"}}, as_user="user1")
    assert error_codes(refused) == ["FORBIDDEN"]  # needs CM
    bad = await demo.data(create_template, {"i": {"name": "Y", "subject": "a\nb"}},
                          as_user="manager1")  # fmt: skip
    assert bad["crmTemplateCreate"]["errors"] == [{"field": "subject", "code": "INVALID"}]
    lead = await prospect(demo, fullName="Ann <Script>", language="en")
    offered = await demo.data(
        "query($id: ID!) { leadMailTemplates(leadId: $id) { name } }", {"id": lead["id"]},
        as_user="user1",
    )  # fmt: skip
    assert offered["leadMailTemplates"] == [{"name": "Welcome"}]
    # user2 belongs to Customer #A: My company's templates are not theirs
    other = await demo.gql("{ crmTemplates { name } }", as_user="user2")
    assert other.get("data") is None or other["data"]["crmTemplates"] == []
    body = await demo.data(SEND, {"i": {"leadId": lead["id"], "templateId": template["id"]}},
                           as_user="user1")  # fmt: skip
    assert body["leadSendEmail"]["errors"] == []
    await send_due()
    (mail,) = await smtp_server.wait_for(1)
    assert str(mail.message["Subject"]) == f"[Lead#{lead['id']}] Welcome, Ann <Script>"
    html = mail.message.get_body(("html",)).get_content()
    assert "Dear Ann &lt;Script&gt; (ramon@prospect.example)" in html
    assert "User #1 user1@example.com" in html


async def test_forward_sends_the_details_and_records_it(demo: Api, smtp_server: SmtpServer) -> None:
    await configure(demo, smtp_server)
    lead = await prospect(demo, fullName="Bruno Costa", estimatedSale="1500", country="Portugal")
    forward = """mutation($id: ID!, $to: [String!]!, $c: String!) {
        leadForward(leadId: $id, to: $to, comment: $c) {
            outgoingMail { state } errors { field } } }"""
    body = await demo.data(forward, {"id": lead["id"], "to": ["partner@else.example"],
                                     "c": "Worth a call."}, as_user="user1")  # fmt: skip
    assert body["leadForward"]["errors"] == []
    await send_due()
    (mail,) = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["partner@else.example"]
    html = mail.message.get_body(("html",)).get_content()
    assert "Worth a call." in html and "Bruno Costa" in html and "1500.00 EUR" in html
    history = await LeadHistory.get(lead_id=lead["id"], kind="FORWARDED")
    assert history.description == "Forwarded to partner@else.example"
    assert (await Lead.get(id=lead["id"])).version > 1


async def test_the_background_sender_delivers_as_soon_as_mail_is_queued(
    demo: Api, smtp_server: SmtpServer
) -> None:
    # Given the server's mail loops running (the suite turns them off elsewhere)
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    config = dataclasses.replace(settings, mail_workers=True, mail_send_interval=3600)
    async with mailworkers.running(config):
        # When a reply is queued, the sender wakes at once (not after its interval)
        body = await demo.data(
            SEND, {"i": {"leadId": lead["id"], "subject": "Now", "bodyHtml": "<p>x</p>"}},
            as_user="user1",
        )  # fmt: skip
        assert body["leadSendEmail"]["errors"] == []
        (mail,) = await smtp_server.wait_for(1, seconds=10)
        # The sender records SENT after the SMTP exchange: wait for it while the sender
        # still runs (leaving `running` cancels it, maybe before it records).
        for _ in range(200):
            if (await OutgoingMail.get()).state == OutgoingState.SENT:
                break
            await asyncio.sleep(0.05)
    assert str(mail.message["Subject"]) == f"[Lead#{lead['id']}] Now"
    assert (await OutgoingMail.get()).state == OutgoingState.SENT
