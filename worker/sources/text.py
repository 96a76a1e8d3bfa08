"""Plain text from the HTML platforms send (Mastodon statuses, HN comments, YouTube descriptions).

Tags are dropped, entities decoded, `<br>` and block ends become line breaks, and the contents of
`<script>`/`<style>` are dropped. The result is inert data: nothing downstream interprets it.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK = {"p", "div", "br", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_SKIP = {"script", "style", "template"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(value: str | None) -> str:
    """Plain text of an HTML fragment, whitespace tidied, paragraphs kept as line breaks."""
    if not value:
        return ""
    parser = _Text()
    parser.feed(value)
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def unescape(value: str | None) -> str:
    """Entities decoded (for platforms that send escaped plain text, e.g. Reddit without raw_json)."""
    return html.unescape(value or "")


def plain(value: str | None) -> str:
    """Plain text of a field that should be plain but may carry tags or entities anyway."""
    if not value:
        return ""
    if re.search(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;", value):
        return html_to_text(value)
    return value.strip()
