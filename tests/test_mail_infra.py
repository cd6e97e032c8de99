"""The mail building blocks over real servers: messages built and checked
(services/mailmessages/), delivered to aiosmtpd (services/smtp.py), and read from a real
Dovecot (services/imap.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from crm_graphql.errors import FieldError
from crm_graphql.services.imap import Mailbox, MailboxError, MessageNotFound, MessageTooLarge
from crm_graphql.services.mailmessages import (
    Attachment,
    MalformedMessage,
    build_message,
    check_header,
    html_to_text,
    lead_token,
    parse_address,
    parse_addresses,
    parse_inbound,
    with_lead_token,
)
from crm_graphql.services.smtp import DeliveryError, deliver
from tests.mailservers import DovecotServer, SmtpServer, free_port

ORIGIN = "crm-test-instance-1"
REFERENCE = "crm-inbox@example.com"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4


@pytest.fixture(autouse=True)
async def clean_db() -> AsyncIterator[None]:
    """These tests touch no database: skip the suite's per-test emptying (and migrations)."""
    yield


def _message(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "sender": "Alice.Seller@Example.COM",
        "sender_name": "Alice Seller",
        "to": ["lead@customer.example"],
        "cc": ["boss@customer.example", REFERENCE],
        "subject": with_lead_token(42, "Your quote"),
        "html": "<p>Dear <b>Bob</b>,</p><p>here is the quote &amp; the terms.</p>",
        "attachments": [Attachment("quote.pdf", "application/pdf", PDF)],
        "origin": ORIGIN,
    }
    values.update(overrides)
    return build_message(**values)  # type: ignore[arg-type]


def _raw_reply(
    subject: str = "Re: [Lead#42] Your quote",
    body: str = "Content-Type: text/plain; charset=utf-8\r\n\r\nYes, let's go.\r\n",
    sender: str = '"Bob Buyer" <bob@customer.example>',
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {REFERENCE}\r\nSubject: {subject}\r\n"
        f"Message-ID: <reply-1@customer.example>\r\nDate: Mon, 1 Jun 2026 10:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\n{extra}{body}"
    ).encode()


# ---------------------------------------------------------------------------------------
# Header values and addresses


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "a\r\nBcc: x@evil.example", "a\x85b"])
def test_check_header_refuses_line_breaks_and_nul(bad: str) -> None:
    with pytest.raises(FieldError) as error:
        check_header("subject", bad)
    assert (error.value.field, error.value.code) == ("subject", "INVALID")
    assert check_header("subject", "Fine\tsubject — ünïcode") == "Fine\tsubject — ünïcode"


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("sender", {"sender": "alice@example.com\r\nBcc: spy@evil.example"}),
        ("sender", {"sender": "alice@example.com\x00"}),
        ("senderName", {"sender_name": "Alice\nBcc: spy@evil.example"}),
        ("senderName", {"sender_name": "Alice\x00"}),
        ("to", {"to": ["lead@customer.example\nBcc: spy@evil.example"]}),
        ("to", {"to": "Lead\r <lead@customer.example>"}),
        ("cc", {"cc": ["ok@example.com", "x@example.com\x00"]}),
        ("subject", {"subject": "Quote\r\nBcc: spy@evil.example"}),
        ("subject", {"subject": "Quote\x00"}),
        ("subject", {"subject": "Quote\rX-Injected: 1"}),
    ],
)
def test_build_message_refuses_header_injection(field: str, overrides: dict[str, object]) -> None:
    with pytest.raises(FieldError) as error:
        _message(**overrides)
    assert error.value.field == field
    assert error.value.code == "INVALID"


def test_parse_addresses() -> None:
    parsed = parse_addresses(
        "to", 'a@example.com, "Doe, John" <John.Doe@EXAMPLE.org>; Bob <bob@müller.example>'
    )
    assert parsed == ["a@example.com", "John.Doe@example.org", "bob@xn--mller-kva.example"]
    # Lists, duplicates (case-insensitive), blanks.
    assert parse_addresses("cc", ["x@example.com", " X@Example.com ,", ""]) == ["x@example.com"]
    assert parse_addresses("cc", None) == []
    assert parse_address("from", '"Q. \\"Boss\\"" <q@example.com>') == (
        'Q. "Boss"',
        "q@example.com",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "not-an-address",
        "a@b@example.com",
        "alice@example.org)<bob@example.org>",  # what email.utils turns into two addresses
        "alice@example",
        "alice@-bad.example",
        "al ice@example.com",
        "<>",
        "Name <a@example.com> trailing",
        "jörg@example.com",
        "a@example.com, <b@example.com",
    ],
)
def test_parse_addresses_refuses_invalid(bad: str) -> None:
    with pytest.raises(FieldError) as error:
        parse_addresses("to", bad)
    assert (error.value.field, error.value.code) == ("to", "INVALID")


def test_html_to_text() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<p>Hello &amp; <b>welcome</b>,</p><p>line1<br>line2</p>"
        "<ul><li>one</li><li>two</li></ul><script>alert('x')</script>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
        '<div>see <a href="https://example.com/q">the quote</a>&nbsp;&lt;ok&gt;</div>'
    )
    assert html_to_text(html) == (
        "Hello & welcome,\n\nline1\nline2\n\n- one\n- two\n\na b\n\n"
        "see the quote <https://example.com/q> <ok>"
    )
    assert html_to_text("unclosed <div><p>tags <script>dropped") == "unclosed\n\ntags"
    assert html_to_text("") == ""


def test_lead_token() -> None:
    assert lead_token("Re: [Lead#42] Your quote") == 42
    assert lead_token("Fwd: RE: [lead#7] x [Lead#9]") == 7
    assert lead_token("No token [Lead#] [Lead#0] [Lead#abc]") is None
    assert lead_token(None) is None
    assert with_lead_token(42, "Your quote") == "[Lead#42] Your quote"
    assert with_lead_token(42, "Re: [Lead#42] Your quote") == "Re: [Lead#42] Your quote"
    assert with_lead_token(42, "[Lead#41] other") == "[Lead#42] [Lead#41] other"


# ---------------------------------------------------------------------------------------
# SMTP


async def test_build_and_deliver(smtp_server: SmtpServer) -> None:
    # Given a message with CC to the reference mailbox and an attachment
    message = _message(
        attachments=[
            Attachment("quote.pdf", "application/pdf", PDF),
            Attachment("../../etc/notes\x00.txt", "text/plain; evil", b"plain notes"),
        ]
    )
    # When it is delivered
    refused = await deliver(message, host=smtp_server.host, port=smtp_server.port, timeout=5)
    # Then everything arrived as built
    assert refused == {}
    [mail] = smtp_server.received
    assert mail.mail_from == "Alice.Seller@example.com"
    assert sorted(mail.rcpt_tos) == sorted(
        ["lead@customer.example", "boss@customer.example", REFERENCE]
    )
    received = mail.message
    assert received["From"] == "Alice Seller <Alice.Seller@example.com>"
    assert received["To"] == "lead@customer.example"
    assert received["Cc"] == f"boss@customer.example, {REFERENCE}"
    assert received["Subject"] == "[Lead#42] Your quote"
    assert received["X-CRM-Origin"] == ORIGIN
    assert received["Message-ID"].endswith("@example.com>")
    assert received["Date"] is not None
    # The parser keeps the wire's CRLF line ends in decoded text.
    plain = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.strip() == "Dear Bob,\n\nhere is the quote & the terms."
    assert "<b>Bob</b>" in received.get_body(("html",)).get_content()
    attachments = {part.get_filename(): part for part in received.iter_attachments()}
    assert set(attachments) == {"quote.pdf", "notes.txt"}
    assert attachments["quote.pdf"].get_content_type() == "application/pdf"
    assert attachments["quote.pdf"].get_content() == PDF
    assert attachments["notes.txt"].get_content_type() == "text/plain"  # parameters dropped
    assert b"\r\nBcc" not in mail.raw


async def test_deliver_message_stored_as_bytes(smtp_server: SmtpServer) -> None:
    # An outbox stores message.as_bytes() and parses it back to send: same message.
    original = _message()
    stored = original.as_bytes()
    message = BytesParser(policy=policy.SMTP).parsebytes(stored)
    assert isinstance(message, EmailMessage)
    await deliver(message, host=smtp_server.host, port=smtp_server.port, timeout=5)
    [mail] = smtp_server.received
    assert len(mail.rcpt_tos) == 3
    assert mail.message["Message-ID"] == original["Message-ID"]
    assert mail.message["Date"] == original["Date"]


async def test_delivery_errors(smtp_server: SmtpServer) -> None:
    target = {"host": smtp_server.host, "port": smtp_server.port, "timeout": 5}
    # SMTP down: temporary; back up: delivered.
    smtp_server.stop()
    try:
        with pytest.raises(DeliveryError) as error:
            await deliver(_message(), **target)
        assert not error.value.permanent
    finally:
        smtp_server.start()
    await deliver(_message(), **target)
    assert len(smtp_server.received) == 1

    # 4xx to the data: temporary. 5xx to every recipient: permanent.
    smtp_server.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(DeliveryError) as error:
        await deliver(_message(), **target)
    assert (error.value.permanent, error.value.code) == (False, 451)
    smtp_server.data_reply = "554 5.6.0 Content refused"
    with pytest.raises(DeliveryError) as error:
        await deliver(_message(), **target)
    assert (error.value.permanent, error.value.code) == (True, 554)
    smtp_server.clear()
    smtp_server.refuse["lead@customer.example"] = "550 5.1.1 No such user"
    with pytest.raises(DeliveryError) as error:
        await deliver(_message(cc=[]), **target)
    assert error.value.permanent
    assert "No such user" in error.value.reason

    # Some recipients refused: delivered to the others, the refusals returned.
    refused = await deliver(_message(), **target)
    assert refused == {"lead@customer.example": "550 5.1.1 No such user"}
    assert sorted(smtp_server.received[-1].rcpt_tos) == ["boss@customer.example", REFERENCE]

    # Nothing listening at all (a port nobody uses): temporary.
    with pytest.raises(DeliveryError) as error:
        await deliver(_message(), host="127.0.0.1", port=free_port(), timeout=5)
    assert not error.value.permanent


# ---------------------------------------------------------------------------------------
# Incoming messages


def test_parse_inbound_plain_reply() -> None:
    inbound = parse_inbound(_raw_reply(), own_origin=ORIGIN, max_attachment_bytes=1000)
    assert inbound.lead_id == 42
    assert (inbound.sender, inbound.sender_name) == ("bob@customer.example", "Bob Buyer")
    assert inbound.message_id == "<reply-1@customer.example>"
    assert inbound.subject == "Re: [Lead#42] Your quote"
    assert inbound.text == "Yes, let's go."
    assert inbound.attachments == []
    assert inbound.date is not None and inbound.date.year == 2026
    assert not inbound.is_own
    assert inbound.skipped_reason is None


def test_parse_inbound_html_only() -> None:
    body = (
        "Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\n<html><body><p>Gr=FC=DFe,</p><p>OK &amp; thanks<br>Bob</p>"
        "<style>p{}</style></body></html>\r\n"
    )
    inbound = parse_inbound(_raw_reply(body=body), own_origin=ORIGIN, max_attachment_bytes=10)
    assert inbound.text == "Grüße,\n\nOK & thanks\nBob"


def _multipart(*parts: str) -> str:
    boundary = "==b=="
    chunks = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{chunks}--{boundary}--\r\n'


def _attachment(name: str, data: bytes, content_type: str = "application/pdf") -> str:
    import base64

    encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (
        f'Content-Type: {content_type}\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    )


def test_parse_inbound_with_attachments() -> None:
    alternative = (
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSigned, see attached.\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Signed, <i>see</i></p>\r\n"
        "--alt--"
    )
    body = _multipart(
        alternative,
        _attachment("../../signed quote.pdf", PDF),
        _attachment("data.bin", b"\x00\x01\x02", "application/x-weird; x=1"),
        "Content-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <logo>\r\n\r\nxx",
    )
    inbound = parse_inbound(_raw_reply(body=body), own_origin=ORIGIN, max_attachment_bytes=10_000)
    assert inbound.text == "Signed, see attached."
    assert [(a.filename, a.content_type) for a in inbound.attachments] == [
        ("signed quote.pdf", "application/pdf"),
        ("data.bin", "application/x-weird"),
    ]
    assert inbound.attachments[0].data == PDF
    assert inbound.attachments[1].data == b"\x00\x01\x02"
    assert inbound.skipped_reason is None


def test_parse_inbound_oversized_attachment() -> None:
    body = _multipart(
        "Content-Type: text/plain\r\n\r\nHuge file attached.",
        _attachment("small.txt", b"tiny", "text/plain"),
        _attachment("huge.pdf", PDF),
    )
    inbound = parse_inbound(_raw_reply(body=body), own_origin=ORIGIN, max_attachment_bytes=100)
    assert [a.filename for a in inbound.attachments] == ["small.txt"]
    assert inbound.oversized == [("huge.pdf", len(PDF))]
    assert inbound.skipped_reason is not None and "huge.pdf" in inbound.skipped_reason


def test_parse_inbound_own_copy_and_no_token() -> None:
    own = parse_inbound(_message().as_bytes(), own_origin=ORIGIN, max_attachment_bytes=10_000)
    assert own.is_own and own.lead_id == 42
    assert own.skipped_reason == "our own copy (origin header)"
    assert [a.filename for a in own.attachments] == ["quote.pdf"]
    assert own.text == "Dear Bob,\n\nhere is the quote & the terms."
    # Another instance's copy is not ours.
    other = parse_inbound(_message().as_bytes(), own_origin="other", max_attachment_bytes=10_000)
    assert not other.is_own

    untokened = parse_inbound(
        _raw_reply(subject="Hello there"), own_origin=ORIGIN, max_attachment_bytes=10
    )
    assert untokened.lead_id is None
    assert untokened.skipped_reason == "no [Lead#<id>] token in the subject"


def test_round_trip_non_ascii() -> None:
    message = _message(sender_name='Zoë "Z" O\'Brien, Sales', subject="[Lead#7] Café ☕ " * 8)
    inbound = parse_inbound(message.as_bytes(), own_origin="x", max_attachment_bytes=10_000)
    assert inbound.sender_name == 'Zoë "Z" O\'Brien, Sales'
    assert inbound.subject == ("[Lead#7] Café ☕ " * 8).strip()
    assert inbound.lead_id == 7


def test_parse_inbound_tolerates_odd_headers_and_forwards() -> None:
    forwarded = (
        "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        "From: someone@example.com\r\nSubject: original\r\n\r\nThe original text.\r\n"
    )
    body = _multipart("Content-Type: text/plain\r\n\r\nForwarding this.", forwarded)
    raw = _raw_reply(body=body, extra="X-Junk: \x00\x01\r\n").replace(
        b"Date: Mon, 1 Jun 2026 10:00:00 +0000", b"Date: the day after tomorrow"
    )
    inbound = parse_inbound(raw, own_origin=ORIGIN, max_attachment_bytes=10_000)
    assert inbound.date is None
    assert inbound.text == "Forwarding this."
    [eml] = inbound.attachments
    assert (eml.filename, eml.content_type) == ("message.eml", "message/rfc822")
    assert b"Subject: original" in eml.data and b"The original text." in eml.data


def test_parse_inbound_cleans_text() -> None:
    body = "Content-Type: text/plain; charset=x-unknown-charset\r\n\r\nnul\x00here\r\nnext\r\n"
    subject = "=?utf-8?q?Re=3A_=5BLead#5=5D_caf=C3=A9?="
    inbound = parse_inbound(
        _raw_reply(subject=subject, body=body), own_origin=ORIGIN, max_attachment_bytes=10
    )
    assert inbound.subject == "Re: [Lead#5] café"
    assert inbound.lead_id == 5
    assert inbound.text == "nulhere\nnext"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"just some text without headers",
        b"Subject: [Lead#1] no sender\r\n\r\nbody",
        b"From: not an address\r\nSubject: [Lead#1] x\r\n\r\nbody",
        b"From: <>\r\nSubject: [Lead#1] x\r\n\r\nbody",
        b"From: =?utf-8?q?broken <\r\nSubject: [Lead#1]\r\n\r\nx",
        b"From: a@example.com\r\n"
        + b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
            for n in range(40)
        ),
    ],
)
def test_parse_inbound_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage) as error:
        parse_inbound(raw, own_origin=ORIGIN, max_attachment_bytes=10)
    assert error.value.reason


# ---------------------------------------------------------------------------------------
# IMAP against Dovecot


def _box(server: DovecotServer, **overrides: object) -> Mailbox:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password": server.password,
        "timeout": 5.0,
    }
    values.update(overrides)
    return Mailbox(**values)  # type: ignore[arg-type]


async def test_mailbox_lists_fetches_and_marks(dovecot: DovecotServer) -> None:
    # Given three messages in the mailbox
    raws = [_raw_reply(subject=f"Re: [Lead#{n}] quote") for n in (1, 2, 3)]
    uids = [await dovecot.append(raw) for raw in raws]
    async with _box(dovecot) as box:
        validity = box.uidvalidity
        assert validity > 0
        # Then all three are unprocessed, and fetching returns them unchanged, unseen
        assert await box.unprocessed_uids() == uids
        for uid, raw in zip(uids, raws, strict=True):
            assert await box.fetch(uid) == raw
        assert await box.size(uids[0]) == len(raws[0])
        assert "\\Seen" not in (await dovecot.flags(uids[0]) or set())
        # When one is marked processed, it leaves the unprocessed list
        assert await box.mark_processed(uids[1]) is True
        assert await box.mark_processed(uids[1]) is True  # again: harmless
        assert await box.unprocessed_uids() == [uids[0], uids[2]]
        flags = await box.flags(uids[1]) or set()
        assert "$CrmFiled" in flags and "\\Seen" not in flags
        assert await box.uids() == uids
    assert "$CrmFiled" in (await dovecot.flags(uids[1]) or set())
    assert "\\Seen" not in (await dovecot.flags(uids[1]) or set())

    # A new session sees the same UIDVALIDITY and the flag kept.
    async with _box(dovecot) as box:
        assert box.uidvalidity == validity
        assert await box.unprocessed_uids() == [uids[0], uids[2]]
        # Gone messages and size limits.
        with pytest.raises(MessageNotFound):
            await box.fetch(uids[-1] + 100)
        assert await box.mark_processed(uids[-1] + 100) is False
        assert await box.flags(uids[-1] + 100) is None
        with pytest.raises(MessageTooLarge) as error:
            await box.fetch(uids[0], max_bytes=10)
        assert error.value.size == len(raws[0])
        # Appending through the wrapper works too, and the count follows.
        new_uid = await box.append(_raw_reply())
        assert new_uid is not None and new_uid > uids[-1]
    assert await dovecot.count() == 4


async def test_mailbox_empty_and_large(dovecot: DovecotServer) -> None:
    async with _box(dovecot) as box:
        assert await box.unprocessed_uids() == []
        # A message arriving in many TCP chunks, with lines that look like IMAP literals
        # and tagged responses, comes back byte for byte.
        tricky = "A1 OK done {12}\r\n) (\r\n* 3 EXISTS\r\n" + "x" * 998 + "\r\n"
        raw = _raw_reply(body="Content-Type: text/plain\r\n\r\n" + tricky * 2000)
        uid = await box.append(raw)
        assert uid is not None
        assert await box.fetch(uid) == raw


async def test_mailbox_and_smtp_round_trip(smtp_server: SmtpServer, dovecot: DovecotServer) -> None:
    # Our own message, as the CC delivers it into the reference mailbox, is recognised.
    await deliver(_message(), host=smtp_server.host, port=smtp_server.port, timeout=5)
    uid = await dovecot.append(smtp_server.received[0].raw)
    async with _box(dovecot) as box:
        raw = await box.fetch(uid)
    inbound = parse_inbound(raw, own_origin=ORIGIN, max_attachment_bytes=100_000)
    assert inbound.is_own and inbound.lead_id == 42
    assert inbound.attachments[0].data == PDF
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["X-CRM-Origin"] == ORIGIN


async def test_mailbox_refusals(dovecot: DovecotServer) -> None:
    started = time.monotonic()
    with pytest.raises(MailboxError) as error:
        async with _box(dovecot, password="wrong"):
            pass
    assert "login refused" in error.value.reason
    with pytest.raises(MailboxError):
        async with _box(dovecot, user="nobody here"):
            pass
    with pytest.raises(MailboxError):
        async with _box(dovecot, password="bad\r\nA2 LOGOUT"):
            pass
    with pytest.raises(MailboxError) as error:
        async with _box(dovecot, port=free_port()):
            pass
    assert "cannot connect" in error.value.reason
    assert time.monotonic() - started < 5  # refusals are immediate, not timeouts


async def test_mailbox_silent_server() -> None:
    # A server that accepts the connection but never greets: refused after the timeout.
    writers: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _, writer: writers.append(writer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(MailboxError) as error:
            async with Mailbox("127.0.0.1", port, "crm", "x", timeout=0.3):
                pass
        assert "cannot connect" in error.value.reason
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_mailbox_connection_lost(dovecot: DovecotServer) -> None:
    await dovecot.append(_raw_reply())
    # The server drops the session: the next command fails at once, not after the timeout,
    # and so does every later one.
    async with _box(dovecot, timeout=10.0) as box:
        assert len(await box.unprocessed_uids()) == 1
        dovecot.kick()
        # (kick only signals the session's process: a command may still slip through.)
        started = time.monotonic()
        with pytest.raises(MailboxError) as error:
            while time.monotonic() - started < 5:
                await box.unprocessed_uids()
                await asyncio.sleep(0.02)
        assert time.monotonic() - started < 5
        assert "connection" in error.value.reason
        with pytest.raises(MailboxError):
            await box.fetch(1)
    # The server down: no session; back up: sessions work again.
    dovecot.stop()
    try:
        with pytest.raises(MailboxError) as error:
            async with _box(dovecot):
                pass
        assert "cannot connect" in error.value.reason
    finally:
        dovecot.start()
    async with _box(dovecot) as again:
        assert len(await again.unprocessed_uids()) == 1
