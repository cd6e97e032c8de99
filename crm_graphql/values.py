"""The one place that parses the values clients send (issue 14): money, percentages,
e-mail addresses, currency codes and language codes. Ids have theirs in `ids.py`.

Each parser takes the raw value and the GraphQL field name to blame, and returns the
normalised value or raises `FieldError(field, code, message)`, so every domain refuses
bad input with the same code and wording."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pycountry

from crm_graphql.errors import ErrorCode, FieldError

# --- Money: integer cents in the database (SQLite keeps decimals as text, which
# compares and sums wrongly) and Decimal everywhere else.

CENT = Decimal("0.01")
# Largest amount of one line: ten thousand million (cents fit a BIGINT with room to sum).
MAX_AMOUNT = Decimal("10000000000")


def decimal_to_cents(amount: Decimal) -> int:
    """`amount` in whole cents, rounded half up."""
    return int((amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def cents_to_decimal(cents: int) -> Decimal:
    """Whole cents as a Decimal amount with two decimals."""
    return (Decimal(cents) / 100).quantize(CENT)


def _decimal(raw: Any) -> Decimal | None:
    """`raw` as a finite Decimal, or None when it is not a number."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def parse_amount(raw: Any, field: str) -> int:
    """An amount given as decimal text (0 to MAX_AMOUNT, at most 2 decimals) in cents."""
    value = _decimal(raw)
    if value is None:
        raise FieldError(field, ErrorCode.INVALID, f"'{raw}' is not an amount (e.g. 2400.00).")
    if value < 0:
        raise FieldError(field, ErrorCode.INVALID, "Amounts cannot be negative.")
    # Range first: quantizing a huge number overflows the decimal context.
    if value > MAX_AMOUNT:
        raise FieldError(field, ErrorCode.TOO_LARGE, f"At most {MAX_AMOUNT}.")
    if value != value.quantize(CENT):
        raise FieldError(field, ErrorCode.INVALID, "Amounts have at most 2 decimals.")
    return decimal_to_cents(value)


# --- Percentages: 0 to 100 with at most 4 decimals (the columns' scale); trailing
# zeros beyond that ("21.00000") are the same number and accepted.

HUNDRED = Decimal(100)
_PERCENT_STEP = Decimal("0.0001")


def parse_percent(raw: Any, field: str) -> Decimal:
    """A percentage given as a number or decimal text: 0 to 100, at most 4 decimals."""
    value = _decimal(raw)
    if value is None:
        raise FieldError(field, ErrorCode.INVALID, f"'{raw}' is not a percentage (e.g. 21).")
    if not Decimal(0) <= value <= HUNDRED:
        raise FieldError(field, ErrorCode.INVALID, "A percentage is between 0 and 100.")
    if value != value.quantize(_PERCENT_STEP):
        raise FieldError(field, ErrorCode.INVALID, "Percentages have at most 4 decimals.")
    return value


# --- E-mail addresses: one @, a dot in the domain, no spaces (a plausibility check;
# outgoing mail has its stricter header rules in services/mailmessages/headers.py).

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(text: str | None) -> bool:
    """Whether `text` looks like an e-mail address."""
    return bool(text) and EMAIL_RE.match(text or "") is not None


# --- Currencies: every ISO 4217 code pycountry lists (list one as maintained by the
# ISO), including fund codes such as BOV, but without the units that are not money
# anyone invoices in: precious metals, bond-market and accounting units, testing and
# "no currency".

_NOT_MONEY = frozenset(
    {"XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS"}
    | {"XUA", "XXX"}
)
CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY
# The shape of a code, for filters that name a currency that may be stored from before.
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def currency_code(raw: Any, field: str = "currency") -> str:
    """An accepted ISO 4217 code (any case in, upper case out)."""
    code = str(raw or "").strip().upper()
    if code not in CURRENCY_CODES:
        raise FieldError(field, ErrorCode.INVALID, f"'{raw}' is not an ISO 4217 currency code.")
    return code


# --- Languages: a user's language is a tag such as "en", "es_ES" or "pt-BR"; printed
# documents use its primary subtag ("fr-FR" -> "fr").

LANGUAGE_RE = re.compile(r"^[a-z]{2}([_-][A-Za-z]{2})?$")


def is_language_tag(text: str | None) -> bool:
    """Whether `text` is a language tag: an ISO 639-1 code, optionally with a region."""
    if not text or not LANGUAGE_RE.match(text):
        return False
    return pycountry.languages.get(alpha_2=text[:2]) is not None


def primary_language(raw: str | None) -> str:
    """The primary subtag of a language tag in lower case ("" when none)."""
    return (raw or "").strip().lower().replace("_", "-").split("-")[0]


# --- Matching keys for duplicate detection (issue 18). Stored next to the values they
# come from (models compute them on write), so the database compares them with an index.

_NOT_WORD = re.compile(r"[^0-9a-z]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# Fewer digits than this is an extension or a typo, not a number worth matching.
MIN_PHONE_DIGITS = 6


def name_key(text: str | None) -> str:
    """A name ignoring case, accents and punctuation: "Café  Müller-S.A." and
    "cafe muller s a" give the same key."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", plain.casefold()).strip()


def phone_key(text: str | None) -> str:
    """A phone number's digits, an international "00" prefix read as "+": "+34 600-11 22"
    and "0034600112 2" match. Empty when too short to mean anything."""
    digits = "".join(c for c in text or "" if c.isdigit() and c.isascii())
    if digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def email_key(text: str | None) -> str:
    """An e-mail address ignoring case and surrounding blanks."""
    return (text or "").strip().casefold()


def domain_key(text: str | None) -> str:
    """A website's host without scheme, "www.", port, path or trailing dot:
    "https://WWW.Example.com/about" gives "example.com"."""
    host = _SCHEME.sub("", (text or "").strip().casefold())
    host = re.split(r"[/?#]", host, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.rstrip(".")
    return host.removeprefix("www.")


def fiscal_key(text: str | None) -> str:
    """A fiscal id ignoring case, blanks and separators: "ES-B 1234.5678" and
    "esb12345678" match."""
    return _NOT_WORD.sub("", (text or "").casefold())
