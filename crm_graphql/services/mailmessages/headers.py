"""Header values and addresses of lead mail. Python 3.11's email package has known
header-injection bugs, so every value that ends up in a header is checked here first (no
line breaks, no control characters), and addresses are parsed by a strict grammar of our
own rather than `email.utils`, which silently repairs malformed lists into different
addresses. Also the `[Lead#<id>]` subject token and the header naming our own copies."""

from __future__ import annotations

import re
from collections.abc import Iterable

from crm_graphql.errors import ErrorCode, FieldError

ORIGIN_HEADER = "X-CRM-Origin"
MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path
MAX_ADDRESSES = 100

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


def check_header(field: str, value: str) -> str:
    """`value` unchanged, or FieldError INVALID when it holds a line break (CR, LF, or any
    other character Python treats as one), NUL or another control character."""
    if not isinstance(value, str):
        raise FieldError(field, ErrorCode.INVALID, "Must be text.")
    if _HEADER_FORBIDDEN.search(value):
        raise FieldError(
            field,
            ErrorCode.INVALID,
            "Must not contain line breaks (CR, LF), NUL or control characters.",
        )
    return value


def normalize_address(field: str, address: str) -> str:
    """One bare address (`local@domain`), checked strictly; the domain lower-cased and
    converted to its ASCII (IDNA) form. Local parts are ASCII only."""
    check_header(field, address)
    address = address.strip()
    local, at, domain = address.rpartition("@")
    invalid = FieldError(field, ErrorCode.INVALID, f"Not a valid e-mail address: {address!r}.")
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
        raise FieldError(field, ErrorCode.INVALID, f"Not a valid e-mail address: {text!r}.")
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
        raise FieldError(field, ErrorCode.TOO_LARGE, f"At most {MAX_ADDRESSES} addresses.")
    return addresses


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
