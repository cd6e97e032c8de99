"""Lead e-mail messages without I/O, one module each: header checks, address parsing, the
`[Lead#<id>]` subject token (`headers`), HTML to text (`htmltext`), building outgoing
messages (`outgoing`) and reading incoming ones (`incoming`). Sending is services/smtp.py,
reading the mailbox services/imap.py."""

from __future__ import annotations

from crm_graphql.services.mailmessages.headers import (
    LEAD_TOKEN,
    MAX_ADDRESS_LENGTH,
    MAX_ADDRESSES,
    ORIGIN_HEADER,
    check_header,
    lead_token,
    normalize_address,
    parse_address,
    parse_addresses,
    with_lead_token,
)
from crm_graphql.services.mailmessages.htmltext import (
    html_to_text,
)
from crm_graphql.services.mailmessages.incoming import (
    MAX_DEPTH,
    InboundMessage,
    MalformedMessage,
    parse_inbound,
)
from crm_graphql.services.mailmessages.outgoing import (
    Attachment,
    build_message,
)

__all__ = [
    "LEAD_TOKEN",
    "MAX_ADDRESSES",
    "MAX_ADDRESS_LENGTH",
    "MAX_DEPTH",
    "ORIGIN_HEADER",
    "Attachment",
    "InboundMessage",
    "MalformedMessage",
    "build_message",
    "check_header",
    "html_to_text",
    "lead_token",
    "normalize_address",
    "parse_address",
    "parse_addresses",
    "parse_inbound",
    "with_lead_token",
]
