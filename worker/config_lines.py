"""Where each key of a TOML text was written, so a config error can name its line.

`tomllib` gives values, not positions; `KeyLines` reads the text once and remembers, for every
table header and every `key = value`, its key path (arrays of tables get their index, as in
`topics[1].name`). Keys inside inline tables and arrays are found by searching forward from the
line that opened them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_HEADER = re.compile(r"^\[\[?\s*(.+?)\s*\]\]?$")
_ASSIGN = re.compile(
    r"""^((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(key: str) -> tuple[str, ...]:
    parts = re.findall(r"""\s*("[^"]*"|'[^']*'|[^.]+)\s*(?:\.|$)""", key)
    return tuple(p.strip().strip("\"'") for p in parts)


class KeyLines:
    """On which line each key path of a TOML text was written (arrays of tables get an index)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.index: dict[tuple[str | int, ...], int] = {}
        counters: dict[tuple[str, ...], int] = {}
        table: tuple[str | int, ...] = ()
        for no, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = _HEADER.match(line) if line.startswith("[") else None
            if header:
                path = _split_key(header.group(1))
                if line.startswith("[["):
                    counters[path] = counters.get(path, -1) + 1
                table = self._resolve(path, counters)
                self.index.setdefault(table, no)
                continue
            assign = _ASSIGN.match(line)
            if assign:
                self.index.setdefault((*table, *_split_key(assign.group(1))), no)

    @staticmethod
    def _resolve(
        path: tuple[str, ...], counters: Mapping[tuple[str, ...], int]
    ) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for i, part in enumerate(path):
            out.append(part)
            if path[: i + 1] in counters:
                out.append(counters[path[: i + 1]])
        return tuple(out)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of `loc`, else of its longest written prefix, refined inside inline values."""
        loc = tuple(loc)
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.index:
                line = self.index[loc[:n]]
                rest = loc[n:]
                return self._refine(line, rest) if rest else line
        return None

    def _refine(self, line: int, rest: tuple[str | int, ...]) -> int:
        """Inside an inline array/table (`steps = [{ after_minutes = … }, …]`): the n-th line
        after `line` that names the last key, n being the array index just after the prefix."""
        keys = [k for k in rest if isinstance(k, str)]
        if not keys:
            return line
        nth = rest[0] + 1 if isinstance(rest[0], int) else 1
        pattern = re.compile(rf"(^|[\s{{,]){re.escape(keys[-1])}\s*=")
        seen = 0
        for i in range(line - 1, len(self.lines)):
            seen += len(pattern.findall(self.lines[i]))
            if seen >= nth:
                return i + 1
        return line
