"""Lead e-mail messages without I/O: header checks, address parsing, HTML to text, the
`[Lead#<id>]` subject token, building outgoing messages and reading incoming ones.

Python 3.11's email package has known header-injection bugs, so every value that ends
up in a header is checked here first (no line breaks, no control characters), and
addresses are parsed by a strict grammar of our own rather than `email.utils`, which
silently repairs malformed lists into different addresses. Sending is services/smtp.py,
reading the mailbox services/imap.py."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from html.parser import HTMLParser

from crm_graphql.errors import FieldError
from crm_graphql.services.files import normalize_content_type, sanitize_name

ORIGIN_HEADER = "X-CRM-Origin"
MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path
MAX_ADDRESSES = 100
MAX_DEPTH = 20  # MIME nesting; deeper than any real client produces

LEAD_TOKEN = re.compile(r"\[Lead#([1-9][0-9]{0,17})\]", re.IGNORECASE)

# Everything `str.splitlines` breaks on (Python's email code splits headers with it), plus
# the other C0/C1 controls: none of them has any business in a header value.
_HEADER_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_RE = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
# `Name <addr>` or `"Quoted, Name" <addr>`; a bare address is tried first. An unquoted
# name holds no specials, so `a@x)<b@y>` is refused rather than read as a name.
_NAMED_RE = re.compile(r'^(?:"((?:[^"\\]|\\.)*)"|([^"<>@()\[\]:;,\\]*?))\s*<([^<>]*)>$')


class MalformedMessage(Exception):
    """An incoming message that cannot be read; `reason` says why, for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


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


# ---------------------------------------------------------------------------------------
# Headers and addresses


def check_header(field: str, value: str) -> str:
    """`value` unchanged, or FieldError INVALID when it holds a line break (CR, LF, or any
    other character Python treats as one), NUL or another control character."""
    if not isinstance(value, str):
        raise FieldError(field, "INVALID", "Must be text.")
    if _HEADER_FORBIDDEN.search(value):
        raise FieldError(
            field, "INVALID", "Must not contain line breaks (CR, LF), NUL or control characters."
        )
    return value


def normalize_address(field: str, address: str) -> str:
    """One bare address (`local@domain`), checked strictly; the domain lower-cased and
    converted to its ASCII (IDNA) form. Local parts are ASCII only."""
    check_header(field, address)
    address = address.strip()
    local, at, domain = address.rpartition("@")
    invalid = FieldError(field, "INVALID", f"Not a valid e-mail address: {address!r}.")
    if not at or not _LOCAL_RE.match(local) or len(local) > 64:
        raise invalid
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise invalid from None
    if not _DOMAIN_RE.match(domain) or len(local) + 1 + len(domain) > MAX_ADDRESS_LENGTH:
        raise invalid
    return f"{local}@{domain}"


def _split_list(text: str) -> list[str]:
    """Split an address list on `,` and `;` outside quotes and angle brackets."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth = 0
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth = max(depth - 1, 0)
        elif not quoted and depth == 0 and char in ",;":
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parse_address(field: str, text: str) -> tuple[str, str]:
    """`(display name, address)` from `addr`, `Name <addr>` or `"Name, Q." <addr>`."""
    check_header(field, text)
    text = text.strip()
    if "<" not in text:
        return "", normalize_address(field, text)
    match = _NAMED_RE.match(text)
    if not match:
        raise FieldError(field, "INVALID", f"Not a valid e-mail address: {text!r}.")
    quoted_name, plain_name, address = match.groups()
    name = re.sub(r"\\(.)", r"\1", quoted_name) if quoted_name is not None else plain_name
    return name.strip(), normalize_address(field, address)


def parse_addresses(field: str, value: str | Iterable[str] | None) -> list[str]:
    """Bare, normalized addresses from a comma- or semicolon-separated string or a list
    of such strings; duplicates dropped (first kept), display names dropped. Any invalid
    entry refuses the whole value with FieldError INVALID."""
    if value is None:
        return []
    texts = [value] if isinstance(value, str) else list(value)
    addresses: list[str] = []
    for text in texts:
        check_header(field, text)
        for item in _split_list(text):
            address = parse_address(field, item)[1]
            if address.lower() not in (a.lower() for a in addresses):
                addresses.append(address)
    if len(addresses) > MAX_ADDRESSES:
        raise FieldError(field, "TOO_LARGE", f"At most {MAX_ADDRESSES} addresses.")
    return addresses


# ---------------------------------------------------------------------------------------
# HTML to text

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
_PARAGRAPH_TAGS = frozenset(
    ["blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul"]
)
_SKIP_TAGS = frozenset(["head", "script", "style", "template", "title", "noscript"])


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pending = 0  # line breaks owed before the next text
        self.last = "\n"  # the last character written
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str | None, list[str]]] = []

    def _break(self, lines: int) -> None:
        if self.out:
            self.pending = max(self.pending, lines)

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self.pending:
            self.out.append("\n" * self.pending)
            self.pending = 0
            self.last = "\n"
        self.out.append(text)
        self.last = text[-1]
        for _, shown in self.links:
            shown.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            # A <br> always ends the line, even an empty one.
            self.pending += 1 if self.out else 0
        elif tag in _BLOCK_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
            if tag == "li":
                self._emit("- ")
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th"):
            # Cells of a row stay on one line, separated.
            if not self.pending and self.last not in " \n":
                self._emit(" ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            keep = href.startswith(("http://", "https://", "mailto:"))
            self.links.append((href.removeprefix("mailto:") if keep else None, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:  # a self-closed <script/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(self.skip - 1, 0)
            return
        if self.skip:
            return
        if tag in _BLOCK_TAGS:
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
        elif tag == "a" and self.links:
            href, shown = self.links.pop()
            # Show the target only when the text does not already say it.
            if href and href != "".join(shown).strip():
                self._emit(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = data.replace("\xa0", " ")
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if self.pending or self.last in " \n":
                data = data.lstrip(" ")
        self._emit(data)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: block elements end lines (paragraphs leave a blank
    line), list items get "- ", link targets follow their text, script/style/head are
    dropped, entities unescaped. Tolerates any malformed markup."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.out).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# ---------------------------------------------------------------------------------------
# The lead token


def lead_token(subject: str | None) -> int | None:
    """The lead id of the first `[Lead#<id>]` in the subject, or None."""
    match = LEAD_TOKEN.search(subject or "")
    return int(match.group(1)) if match else None


def with_lead_token(lead_id: int, subject: str) -> str:
    """The subject prefixed with `[Lead#<id>] ` unless it already carries that token
    (a reply to our own message keeps its subject)."""
    if any(int(m.group(1)) == lead_id for m in LEAD_TOKEN.finditer(subject)):
        return subject
    return f"[Lead#{lead_id}] {subject}".rstrip()


# ---------------------------------------------------------------------------------------
# Outgoing


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
        raise FieldError("to", "REQUIRED", "Give at least one recipient.")
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


# ---------------------------------------------------------------------------------------
# Incoming


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
