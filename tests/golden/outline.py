"""The structure of an HTML page, without its text: one line per element (tag, id, classes),
indented by depth. Golden files keep this, so wording may change but the layout may not."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = tag + (f"#{a['id']}" if a.get("id") else "")
        name += "".join(f".{c}" for c in (a.get("class") or "").split())
        self.lines.append("  " * self.depth + name)
        if tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            self.depth = max(0, self.depth - 1)


def outline(html: str) -> str:
    parser = _Outline()
    parser.feed(html)
    return "\n".join(parser.lines) + "\n"
