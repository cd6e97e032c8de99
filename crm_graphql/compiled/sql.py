"""SQL text for the compiled read path, per dialect: JSON objects and arrays built by the
database (PostgreSQL: json_build_object / json_agg; SQLite: json_object /
json_group_array), the API's scalar formats, and parameters carried through
composition.

A fragment's parameters are held beside its text by numbered markers, so fragments can
be nested in any order and the statement's parameters still come out in text order
(`?` on SQLite, `$n` on PostgreSQL, renumbered)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

_MARK = re.compile("\x00(\\d+)\x00")
_PG_PARAM = re.compile(r"\$(\d+)")
_counter = itertools.count()


class Unsupported(Exception):
    """The compiler does not cover this: the operation runs on the executor."""


# In the message of a statement that failed on purpose (`Dialect.fallback`): a value
# the SQL cannot print as the executor does; the executor answers instead.
FALLBACK = "crm_fallback"


# SQLite's parser has a fixed stack (about 100 levels): a deep enough selection (the
# pipeline's leads, their owner's company and its invoices' totals) makes a statement it
# cannot parse, which the executor then answers.
TOO_DEEP = "parser stack overflow"


def is_fallback(error: BaseException) -> bool:
    """Whether a statement failed on purpose (`Dialect.fallback`) or could not be parsed
    by SQLite: the executor answers, and nothing went wrong."""
    text = str(error)
    return FALLBACK in text or TOO_DEEP in text


@dataclass
class Params:
    """The parameters of one statement, keyed by their markers."""

    values: dict[int, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        number = next(_counter)
        self.values[number] = value
        return f"\x00{number}\x00"

    def adopt(self, sql: str, params: list[Any], postgres: bool) -> str:
        """Tortoise's parameterized SQL with its placeholders turned into markers."""
        if postgres:
            if sql.count("$") != len(_PG_PARAM.findall(sql)):
                raise Unsupported("a dollar sign that is not a parameter")
            return _PG_PARAM.sub(lambda m: self.add(params[int(m.group(1)) - 1]), sql)
        if sql.count("?") != len(params):
            raise Unsupported("a question mark that is not a parameter")
        values = iter(params)
        return re.sub(r"\?", lambda _: self.add(next(values)), sql)

    def finish(self, sql: str, postgres: bool) -> tuple[str, list[Any]]:
        """The statement's text with its placeholders, and its parameters in order."""
        ordered: list[Any] = []

        def place(match: re.Match[str]) -> str:
            ordered.append(self.values[int(match.group(1))])
            return f"${len(ordered)}" if postgres else "?"

        return _MARK.sub(place, sql), ordered


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string literal: only for names the schema defines (keys, type names)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    postgres: bool

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        """A JSON object of (key, SQL value) pairs, keys in the order given."""
        if len(pairs) > 50:  # both databases cap a function's arguments near 100
            raise Unsupported("too many fields in one object")
        args = ", ".join(f"{literal(key)}, {value}" for key, value in pairs)
        return f"json_build_object({args})" if self.postgres else f"json_object({args})"

    def array(self, values: list[str]) -> str:
        """A JSON array of SQL values."""
        args = ", ".join(values)
        return f"json_build_array({args})" if self.postgres else f"json_array({args})"

    def nested(self, value: str) -> str:
        """A JSON value that comes out of a subquery (SQLite loses its JSON subtype)."""
        return value if self.postgres else f"json({value})"

    def agg(self, value: str, order: str, where: str) -> str:
        """The JSON array of `value` over the rows that satisfy `where`, in `order`."""
        if self.postgres:
            return (
                f"COALESCE(json_agg({value} ORDER BY {order}) FILTER (WHERE {where}), '[]'::json)"
            )
        # SQLite before 3.44 has no ORDER BY in aggregates: the rows come from a
        # subquery in `order` already. `value` is a json_object() (it keeps its subtype).
        return f"json_group_array({value}) FILTER (WHERE {where})"

    def boolean(self, expr: str, nullable: bool = True) -> str:
        if self.postgres:
            return expr
        value = f"CASE WHEN {expr} THEN json('true') ELSE json('false') END"
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE {value} END" if nullable else value

    def condition(self, condition: str) -> str:
        """A JSON boolean from an SQL condition."""
        if self.postgres:
            return f"({condition})"
        return f"CASE WHEN {condition} THEN json('true') ELSE json('false') END"

    def false(self) -> str:
        return "false" if self.postgres else "json('false')"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def date(self, expr: str) -> str:
        """Python's date.isoformat(); SQLite stores dates that way already."""
        return f"to_char({expr}, 'YYYY-MM-DD')" if self.postgres else expr

    def datetime(self, expr: str) -> str:
        """Python's datetime.isoformat() of the aware UTC value Tortoise reads (no
        fraction when the microseconds are 0); SQLite holds str(datetime) already."""
        if self.postgres:
            utc = f"({expr} AT TIME ZONE 'UTC')"
            return (
                f"CASE WHEN {expr} IS NULL THEN NULL ELSE "
                f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN to_char({utc}, "
                f"'US') = '000000' THEN '' ELSE '.' || to_char({utc}, 'US') END || '+00:00' END"
            )
        return f"replace({expr}, ' ', 'T')"

    def percent_units(self, expr: str) -> str:
        """A numeric(_, 4) column in ten-thousandths, an integer. SQLite keeps the text
        the Decimal was written as ("21", "2.1E+1", "12.50"), which its REAL reads
        within far less than half a unit: rounded, it is the number exactly (the API
        stores at most 4 decimals, values.parse_percent; a stored text with more would
        be rounded half up here, half even by Tortoise's read: not a value it writes)."""
        if self.postgres:
            return f"CAST({expr} * 10000 AS bigint)"
        return f"CAST(round(CAST({expr} AS REAL) * 10000) AS INTEGER)"

    def percent(self, expr: str) -> str:
        """A numeric(_, 4) column as `Decimal(x).normalize() + Decimal(0)` prints it (no
        trailing zeros, no exponent). PostgreSQL's text has the four decimals, so
        trailing zeros (and a bare point) go; SQLite's is printed from its units."""
        if self.postgres:
            return f"rtrim(rtrim(CAST({expr} AS TEXT), '0'), '.')"
        units = self.percent_units(expr)
        whole, part = f"(abs({units}) / 10000)", f"(abs({units}) % 10000)"
        return (
            f"CASE WHEN {units} < 0 THEN '-' ELSE '' END || {whole} || CASE WHEN {part} = 0 "
            f"THEN '' ELSE '.' || rtrim(printf('%04d', {part}), '0') END"
        )

    def decimal_text(self, expr: str) -> str:
        """`str(Decimal(text))` of a stored number's text: for `-?[0-9]+(.[0-9]+)?`
        (what services.customfields.canonical writes, and any such text): as written
        without leading zeros, or with an exponent when the first digit is 7 or more
        places after the point ("1E-7", "1.2E-7", "0E-7"), as Decimal prints it. Any
        other text (an exponent, a sign "+", spaces, not a number) is not computed:
        `fallback`, the executor answers (and errs where Decimal() does)."""
        if self.postgres:
            valid = f"{expr} ~ '^-?[0-9]+(\\.[0-9]+)?$'"
        else:
            valid = (
                f"({expr} GLOB '[0-9]*' OR {expr} GLOB '-[0-9]*') AND substr({expr}, 2) "
                f"NOT GLOB '*[^0-9.]*' AND {expr} NOT GLOB '*.*.*' AND {expr} NOT GLOB '*.'"
            )
        sign = f"CASE WHEN substr({expr}, 1, 1) = '-' THEN '-' ELSE '' END"
        # The digits without sign and leading zeros: "12.50", ".0005", "" (zero).
        w = f"ltrim(ltrim({expr}, '-'), '0')"
        fraction = f"substr({w}, 2)"
        r = f"ltrim({fraction}, '0')"
        zeros = f"(length({fraction}) - length({r}))"
        rest = f"CASE WHEN length({r}) > 1 THEN '.' || substr({r}, 2) ELSE '' END"
        digits = (
            f"CASE WHEN {w} = '' THEN '0' WHEN substr({w}, 1, 1) <> '.' THEN {w} "
            f"WHEN {r} = '' AND length({fraction}) >= 7 THEN '0E-' || length({fraction}) "
            f"WHEN {r} <> '' AND {zeros} >= 6 THEN substr({r}, 1, 1) || {rest} || 'E-' || "
            f"({zeros} + 1) ELSE '0' || {w} END"
        )
        return (
            f"CASE WHEN {expr} IS NULL THEN NULL WHEN {valid} THEN {sign} || {digits} "
            f"ELSE {self.fallback(expr)} END"
        )

    def share(self, cents: str, units: str) -> str:
        """`cents` x a percentage of `units` ten-thousandths / 100, rounded half away
        from zero to a whole cent (services.invoicing.cents: ROUND_HALF_UP), exact:
        PostgreSQL in numeric; SQLite in 64-bit integers, the cents split so that no
        product overflows while the result fits (one that does not becomes REAL,
        which `exact_money` refuses: `fallback`)."""
        a, p = f"abs({cents})", f"abs({units})"
        if self.postgres:
            rounded = f"div(CAST({a} AS numeric) * {p} + 500000, 1000000)"
        else:
            rounded = f"(({a} / 1000000) * {p} + (({a} % 1000000) * {p} + 500000) / 1000000)"
        return f"CASE WHEN {self.opposite(cents, units)} THEN -{rounded} ELSE {rounded} END"

    def opposite(self, one: str, other: str) -> str:
        """Whether a product of the two is negative by Decimal's sign rule (zeros are
        positive here: neither database stores a negative zero)."""
        return f"(({one}) < 0) <> (({other}) < 0)"

    def exact_money(self, cents: str, negative: str | None = None) -> str:
        """`money` of computed cents; with `negative` (a condition: the product was
        negative), a zero prints as Decimal's "-0.00". SQLite: a value that overflowed
        into REAL is not printed but fails the statement (`fallback`): the executor
        answers."""
        text = self.money(cents)
        if negative is not None:
            text = f"CASE WHEN {cents} = 0 AND {negative} THEN '-0.00' ELSE {text} END"
        if self.postgres:
            return text
        return f"CASE WHEN typeof({cents}) = 'integer' THEN {text} ELSE {self.fallback(cents)} END"

    def fallback(self, value: str) -> str:
        """Text SQL that fails the statement with FALLBACK in its message (`value`, a
        column of the row, keeps it from being computed before the row is)."""
        marked = f"{literal(FALLBACK)} || {value}"
        if self.postgres:
            return f"CAST(CAST({marked} AS integer) AS text)"
        return f"json_extract('{{}}', {marked})"

    def money(self, expr: str) -> str:
        """Cents as the API's decimal text (values.cents_to_decimal: "1234.50")."""
        if self.postgres:
            # Times 0.01, exact (a division keeps fewer decimals the larger the value);
            # room for a computed amount past 64 bits.
            return f"CAST(CAST({expr} AS numeric) * 0.01 AS numeric(40, 2))::text"
        return (
            f"CASE WHEN {expr} IS NULL THEN NULL ELSE printf('%s%d.%02d', "
            f"CASE WHEN {expr} < 0 THEN '-' ELSE '' END, abs({expr}) / 100, "
            f"abs({expr}) % 100) END"
        )
