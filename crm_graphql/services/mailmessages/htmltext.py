"""HTML mail bodies as plain text (the alternative part we send, the text we file)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
