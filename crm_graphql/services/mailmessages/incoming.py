"""Reading incoming mail of the reference mailbox (fetched by services/imap.py) into what
the lead poller files."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message, MIMEPart
from email.parser import BytesParser

from crm_graphql.errors import FieldError
from crm_graphql.services.files.names import normalize_content_type, sanitize_name
from crm_graphql.services.mailmessages.headers import ORIGIN_HEADER, lead_token, normalize_address
from crm_graphql.services.mailmessages.htmltext import html_to_text
from crm_graphql.services.mailmessages.outgoing import Attachment

MAX_DEPTH = 20  # MIME nesting; deeper than any real client produces


class MalformedMessage(Exception):
    """An incoming message that cannot be read; `reason` says why, for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class InboundMessage:
    """What the lead poller needs from one message of the reference mailbox."""

    message_id: str | None
    subject: str
    lead_id: int | None
    sender: str
    sender_name: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)
    # Attachments left out because they exceed the size limit: (file name, size in bytes).
    oversized: list[tuple[str, int]] = field(default_factory=list)
    is_own: bool = False
    date: datetime | None = None

    @property
    def skipped_reason(self) -> str | None:
        """Why the poller must leave this message alone, or None to file it."""
        if self.is_own:
            return "our own copy (origin header)"
        if self.lead_id is None:
            return "no [Lead#<id>] token in the subject"
        if self.oversized:
            name, size = self.oversized[0]
            return f"attachment '{name}' is {size} bytes, over the limit"
        return None


def _clean_text(value: str) -> str:
    # PostgreSQL refuses NUL in text; other controls (bar tab and newline) are noise.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\t\n" or unicodedata.category(c) not in ("Cc", "Cs"))


def _one_line(value: str) -> str:
    return re.sub(r"\s+", " ", _clean_text(value)).strip()


def _header(message: Message, name: str) -> str:
    """The decoded header value; the raw text when decoding fails (the email package's
    header parsers raise on some hostile values), "" when absent."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
        return str(raw)


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        # An unknown or lying charset: keep what decodes rather than lose the reply.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return _clean_text(content if isinstance(content, str) else "")


def _leaves(part: MIMEPart, depth: int = 0) -> Iterable[MIMEPart]:
    """Every non-multipart part; a forwarded message/rfc822 stays one part (an .eml)."""
    if depth > MAX_DEPTH:
        raise MalformedMessage("MIME parts nested too deeply")
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for child in part.iter_parts():
            yield from _leaves(child, depth + 1)
    else:
        yield part


def _attachment_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            return inner.as_bytes(policy=policy.SMTP)
        return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _base64_size(part: Message) -> int | None:
    """The decoded size of a base64 part, counted without decoding it; None for other
    encodings."""
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() != "base64":
        return None
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    digits = len(re.sub(r"[^A-Za-z0-9+/=]", "", payload))
    return digits * 3 // 4 - payload.rstrip().count("=", -2)


def _read(raw: bytes, own_origin: str, max_attachment_bytes: int) -> InboundMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise MalformedMessage("no header section")

    senders = getattr(message["From"], "addresses", ()) if message["From"] is not None else ()
    if not senders:
        raise MalformedMessage("no From address")
    try:
        sender = normalize_address("from", senders[0].addr_spec)
    except FieldError:
        raise MalformedMessage(f"invalid From address {senders[0].addr_spec!r}") from None

    message_id = _one_line(_header(message, "Message-ID"))[:998] or None
    subject = _one_line(_header(message, "Subject"))
    origins = message.get_all(ORIGIN_HEADER) or []
    is_own = bool(own_origin) and any(str(v).strip() == own_origin for v in origins)
    try:
        date = getattr(message["Date"], "datetime", None)
    except Exception:
        date = None  # an unreadable Date is no reason to lose the reply

    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _part_text(body)
        if body.get_content_subtype() == "html":
            text = html_to_text(text)
    # The alternative versions of the body are not attachments either.
    body_parts = {id(body)} if body is not None else set()
    if body is not None:
        for candidate in ("plain", "html"):
            alternative = message.get_body(preferencelist=(candidate,))
            if alternative is not None:
                body_parts.add(id(alternative))

    attachments: list[Attachment] = []
    oversized: list[tuple[str, int]] = []
    for part in _leaves(message):
        if id(part) in body_parts:
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition != "attachment" and not filename:
            continue  # an inline part without a name: a signature image, a text fragment
        default = "message.eml" if part.get_content_type() == "message/rfc822" else "attachment"
        name = sanitize_name(filename or default)
        # A huge base64 attachment is measured, not decoded.
        size = _base64_size(part)
        data = _attachment_bytes(part) if size is None or size <= max_attachment_bytes else b""
        size = len(data) if data else (size or 0)
        if size > max_attachment_bytes:
            oversized.append((name, size))
            continue
        attachments.append(Attachment(name, normalize_content_type(part.get_content_type()), data))

    return InboundMessage(
        message_id=message_id,
        subject=subject,
        lead_id=lead_token(subject),
        sender=sender,
        sender_name=_one_line(senders[0].display_name or ""),
        text=text.strip(),
        attachments=attachments,
        oversized=oversized,
        is_own=is_own,
        date=date,
    )


def parse_inbound(raw: bytes, *, own_origin: str, max_attachment_bytes: int) -> InboundMessage:
    """Read one raw message. Raises MalformedMessage (never anything else) when it cannot
    be read: no headers, no valid From, broken MIME structure."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise MalformedMessage("empty message")
    try:
        return _read(bytes(raw), own_origin, max_attachment_bytes)
    except MalformedMessage:
        raise
    except Exception as exc:
        # The email package raises assorted errors (IndexError, AttributeError,
        # HeaderParseError...) on hostile input; the poller needs one kind with a reason.
        raise MalformedMessage(f"unreadable message ({type(exc).__name__}: {exc})") from exc
