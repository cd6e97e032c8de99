"""Building outgoing lead mail (sent by services/smtp.py)."""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.services.files.names import normalize_content_type, sanitize_name
from crm_graphql.services.mailmessages.headers import (
    ORIGIN_HEADER,
    check_header,
    normalize_address,
    parse_addresses,
)
from crm_graphql.services.mailmessages.htmltext import html_to_text


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def build_message(
    *,
    sender: str,
    sender_name: str = "",
    to: str | Sequence[str],
    cc: str | Sequence[str] = (),
    subject: str,
    html: str,
    attachments: Sequence[Attachment] = (),
    origin: str,
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """An outgoing message: HTML with a plain-text alternative, attachments, a Message-ID
    (made from the sender's domain unless given), a Date and the `X-CRM-Origin` header
    that lets the poller recognise our own copy when it comes back through the CC.
    Attachment names are sanitised and unknown content types become octet-stream.
    FieldError names the offending argument ("sender", "senderName", "to", "cc",
    "subject")."""
    from_address = normalize_address("sender", sender)
    check_header("senderName", sender_name)
    recipients = parse_addresses("to", to)
    if not recipients:
        raise FieldError("to", ErrorCode.REQUIRED, "Give at least one recipient.")
    copies = [a for a in parse_addresses("cc", cc) if a.lower() not in map(str.lower, recipients)]
    check_header("subject", subject)
    check_header("origin", origin)
    if message_id is not None:
        check_header("messageId", message_id)

    message = EmailMessage(policy=policy.SMTP)
    # An Address, not formataddr(): re-parsing a formatted string loses the quoting of a
    # non-ASCII name with a comma ("Zoë, Sales" became two addresses).
    message["From"] = Address(display_name=sender_name.strip(), addr_spec=from_address)
    message["To"] = ", ".join(recipients)
    if copies:
        message["Cc"] = ", ".join(copies)
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(date or datetime.now(UTC))
    domain = from_address.rpartition("@")[2]
    # make_msgid without a domain asks the resolver for our FQDN: slow and unhelpful.
    message["Message-ID"] = message_id or email.utils.make_msgid(domain=domain)
    message[ORIGIN_HEADER] = origin
    message.set_content(html_to_text(html))
    message.add_alternative(html, subtype="html")
    for attachment in attachments:
        content_type = normalize_content_type(attachment.content_type)
        if content_type.startswith(("multipart/", "message/")):
            content_type = "application/octet-stream"  # would need a parsed body, not bytes
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(
            bytes(attachment.data),
            maintype=maintype,
            subtype=subtype,
            filename=sanitize_name(attachment.filename),
        )
    return message
