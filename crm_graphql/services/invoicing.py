"""Invoice arithmetic and bill ID numbering (SPEC §6).

Totals: base = sum of lines; discount = base x discount%; subtotal = base - discount;
each tax = subtotal x tax%; retention = subtotal x retention%; total = subtotal + taxes -
retention. Every amount is a Decimal rounded half-up to cents at each step, as printed.

Numbering: a pattern PREFIX[START]SUFFIX. The next number of a pattern is START when no
bill ID matches it yet, else the highest matching number compared numerically plus
one, zero-padded to START's width. Concurrent creations are serialised: on PostgreSQL
by a transaction-scoped advisory lock, on SQLite by its single writer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tortoise.connection import get_connection

from crm_graphql.errors import ErrorCode, FieldError

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
_PATTERN_RE = re.compile(r"^(?P<prefix>[^\[\]]*)\[(?P<start>\d{1,18})\](?P<suffix>[^\[\]]*)$")
# Any constant works; it names the lock every process takes while numbering.
_NUMBERING_LOCK = 724_001


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxAmount:
    name: str
    percent: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Totals:
    base: Decimal
    discount: Decimal
    subtotal: Decimal
    taxes: tuple[TaxAmount, ...]
    tax_total: Decimal
    retention: Decimal
    total: Decimal


def compute_totals(
    amounts: Sequence[Decimal],
    discount_percent: Decimal,
    taxes: Sequence[tuple[str, Decimal]],
    retention_percent: Decimal,
) -> Totals:
    base = cents(sum((cents(a) for a in amounts), Decimal(0)))
    discount = cents(base * discount_percent / HUNDRED)
    subtotal = base - discount
    tax_amounts = tuple(
        TaxAmount(name, percent, cents(subtotal * percent / HUNDRED)) for name, percent in taxes
    )
    tax_total = sum((t.amount for t in tax_amounts), Decimal("0.00"))
    retention = cents(subtotal * retention_percent / HUNDRED)
    return Totals(
        base=base,
        discount=discount,
        subtotal=subtotal,
        taxes=tax_amounts,
        tax_total=tax_total,
        retention=retention,
        total=subtotal + tax_total - retention,
    )


@dataclass(frozen=True)
class Pattern:
    prefix: str
    start: str
    suffix: str

    def format(self, number: int) -> str:
        return f"{self.prefix}{str(number).zfill(len(self.start))}{self.suffix}"

    def number_of(self, bill_id: str) -> int | None:
        """The number inside `bill_id` when it follows this pattern, else None."""
        if not (bill_id.startswith(self.prefix) and bill_id.endswith(self.suffix)):
            return None
        middle = bill_id[len(self.prefix) : len(bill_id) - len(self.suffix)]
        if not middle.isdigit() or not middle.isascii() or len(middle) > 18:
            return None
        return int(middle)


def parse_pattern(pattern: str) -> Pattern:
    match = _PATTERN_RE.match(pattern.strip())
    if match is None:
        raise FieldError(
            "invoicePattern",
            ErrorCode.INVALID,
            "Use PREFIX[START]SUFFIX with START made of digits, e.g. 21/[1001] or FAC[0100]-B.",
        )
    return Pattern(match["prefix"], match["start"], match["suffix"])


def next_number(pattern: Pattern, existing: Sequence[str]) -> str:
    """The next bill ID given the bill IDs that exist (pure: for tests and imports)."""
    numbers = [n for n in (pattern.number_of(b) for b in existing) if n is not None]
    return pattern.format(max(numbers) + 1 if numbers else int(pattern.start))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def allocate_bill_id(pattern: Pattern) -> str:
    """The next bill ID of `pattern`. Call inside the transaction that inserts the
    invoice: the lock it takes (PostgreSQL) lasts until that transaction ends."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    like = _like_escape(pattern.prefix) + "%" + _like_escape(pattern.suffix)
    start = len(pattern.prefix) + 1
    trim = len(pattern.prefix) + len(pattern.suffix)
    middle = "substr(bill_id, {s}, length(bill_id) - {t})"
    if postgres:
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [_NUMBERING_LOCK])
        m = middle.format(s="$1", t="$2")
        sql = (
            f"SELECT MAX(CAST({m} AS BIGINT)) AS top FROM invoices "  # noqa: S608
            f"WHERE bill_id LIKE $3 ESCAPE '\\' AND {m} ~ '^[0-9]{{1,18}}$'"
        )
    else:
        m = middle.format(s="?", t="?")
        sql = (
            f"SELECT MAX(CAST({m} AS INTEGER)) AS top FROM invoices "  # noqa: S608
            f"WHERE bill_id LIKE ? ESCAPE '\\' AND {m} != '' "
            f"AND {m} NOT GLOB '*[^0-9]*' AND length({m}) <= 18"
        )
    params: list[object] = [start, trim, like]
    if not postgres:
        params = [start, trim, like, start, trim, start, trim, start, trim]
    rows = await connection.execute_query_dict(sql, params)
    top = rows[0]["top"] if rows else None
    return pattern.format(int(top) + 1 if top is not None else int(pattern.start))
