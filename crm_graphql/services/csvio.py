"""CSV reading and writing shared by every export and import (SPEC §9).

Writing: UTF-8, a header row, RFC 4180 quoting (fields holding a comma, a quote, CR or
LF are quoted, quotes doubled, CRLF line ends) and spreadsheet formula neutralisation:
a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a CR gets a leading
apostrophe, so a spreadsheet shows it as text instead of running it (OWASP "CSV
injection"). A cell that already starts with an apostrophe gets one too, which makes
the escaping exactly reversible: `restore` drops one leading apostrophe, so a file the
product exported imports back to the very same values.

Reading: UTF-8 only (a byte order mark is tolerated). `check_encoding` scans the file
once before any row is used, so another encoding (Latin-1, UTF-16...) is one clear
error for the whole file rather than a failure half-way through an import; then
`read_rows` streams the records one at a time with the line each starts on.

Why not `defusedcsv` (the library for this): it leaves tab/CR-led cells alone, rewrites
``|`` inside escaped cells and does not escape apostrophe-led cells, so its output does
not read back to the original values. The rule here is two short functions.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator, Iterable, Sequence
from typing import BinaryIO

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
ESCAPE = "'"
_BLOCK = 1 << 20


def neutralise(value: str) -> str:
    """The cell as written: an apostrophe before a formula trigger (or an apostrophe)."""
    if value and (value[0] in FORMULA_TRIGGERS or value[0] == ESCAPE):
        return ESCAPE + value
    return value


def restore(cell: str) -> str:
    """The value behind a cell written by `neutralise` (its exact inverse)."""
    return cell[1:] if cell.startswith(ESCAPE) else cell


class CsvEncoder:
    """Turns rows of text into CSV bytes, a batch at a time (for streamed responses)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def encode(self, rows: Iterable[Sequence[str]]) -> bytes:
        for row in rows:
            self._writer.writerow([neutralise(cell) for cell in row])
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


class CsvFileError(ValueError):
    """The file as a whole cannot be read; the message says why and where."""


def check_encoding(stream: BinaryIO) -> None:
    """Read the whole file once: it must be UTF-8 text without NUL bytes. The stream is
    rewound afterwards. Raises CsvFileError naming the line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    stream.seek(0)
    while True:
        block = stream.read(_BLOCK)
        final = not block
        try:
            decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            bad = block[exc.start : exc.start + 1] if block else b""
            line += block.count(b"\n", 0, max(exc.start, 0))
            shown = f" (byte 0x{bad.hex()})" if bad else ""
            raise CsvFileError(
                f"The file is not UTF-8 text: line {line} has an invalid byte{shown}. "
                "Save it as UTF-8 CSV and try again."
            ) from None
        if b"\x00" in block:
            line += block.count(b"\n", 0, block.index(b"\x00"))
            raise CsvFileError(f"The file holds a NUL byte on line {line}: it is not CSV text.")
        if final:
            break
        line += block.count(b"\n")
    stream.seek(0)


def sniff_delimiter(stream: BinaryIO) -> str:
    """`;` when the header row is one cell holding semicolons (what spreadsheets in many
    European locales save as "CSV"), else `,`. Our headers never hold a `;` in a name,
    so a comma-separated file is never misread. The stream is rewound."""
    start = stream.tell()
    head = stream.read(_BLOCK)
    stream.seek(start)
    first_line = head.decode("utf-8-sig", errors="replace").splitlines()[:1]
    if not first_line:
        return ","
    cells = next(csv.reader(first_line), [])
    return ";" if len(cells) == 1 and ";" in cells[0] else ","


def read_rows(stream: BinaryIO) -> Generator[tuple[int, list[str]], None, None]:
    """(line, cells) for each record, streamed; `line` is where the record starts
    (the header is line 1). Blank lines are skipped. Cells are as in the file: apply
    `restore` to undo formula neutralisation. Raises CsvFileError on malformed CSV."""
    delimiter = sniff_delimiter(stream)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True, delimiter=delimiter)
    start = 1
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvFileError(f"Line {reader.line_num}: malformed CSV ({exc}).") from None
            except UnicodeDecodeError:
                raise CsvFileError(
                    f"The file is not UTF-8 text (near line {reader.line_num + 1})."
                ) from None
            line, start = start, reader.line_num + 1
            if row and any(cell.strip() for cell in row):
                yield line, row
    finally:
        # Leave the caller's stream open.
        text.detach()


def header_problem(found: Sequence[str], expected: Sequence[str]) -> str | None:
    """Why a header row is not exactly `expected` (ignoring case and surrounding
    spaces), or None when it is."""

    def norm(name: str) -> str:
        return " ".join(restore(name).split()).lower()

    got = [norm(n) for n in found]
    want = [norm(n) for n in expected]
    if got == want:
        return None
    listing = ", ".join(expected)
    missing = [e for e, w in zip(expected, want, strict=True) if w not in got]
    extra = [f.strip() for f, g in zip(found, got, strict=True) if g not in want]
    if missing:
        detail = "missing " + ", ".join(f"'{m}'" for m in missing)
    elif extra:
        detail = "unexpected " + ", ".join(f"'{x}'" for x in extra)
    elif len(got) != len(want):
        detail = "a column appears more than once"
    else:
        index = next(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
        detail = f"column {index + 1} is '{found[index].strip()}' where '{expected[index]}' belongs"
    return f"Wrong header ({detail}). The columns must be, in this order: {listing}."
