"""The Mentions JSONL / CSV import path (DESIGN.md, "Interchange formats").

Each line is validated on its own: a bad one becomes a `LineError(line_no, reason)` and the rest
goes on. Required: platform, id, created_at (ISO 8601 with an offset), text. Optional: url, author,
author_followers, lang, likes, reposts, replies, topic, in_reply_to. Other keys go to `extra`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker.model import Mention

REQUIRED = ("platform", "id", "created_at", "text")
OPTIONAL_STR = ("url", "author", "lang", "topic", "in_reply_to")
OPTIONAL_INT = ("author_followers", "likes", "reposts", "replies")
KNOWN = set(REQUIRED) | set(OPTIONAL_STR) | set(OPTIONAL_INT)


@dataclass(frozen=True)
class LineError:
    line_no: int
    reason: str


class _Invalid(ValueError):
    pass


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Invalid(f"'created_at' must be an ISO 8601 string, got {value!r}")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"'created_at' is not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None:
        raise _Invalid(f"'created_at' has no UTC offset: {value!r} (write e.g. {value}+00:00)")
    return when.astimezone(UTC)


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"'{key}' must be a non-negative integer, got {value!r}")
    return value


def mention_from_dict(data: Mapping[str, Any]) -> Mention:
    """Validate one record; raise ValueError naming the field that is wrong."""
    for key in REQUIRED:
        if key not in data or data[key] is None or data[key] == "":
            raise _Invalid(f"missing required field '{key}'")
    platform, text = data["platform"], data["text"]
    if not isinstance(platform, str):
        raise _Invalid(f"'platform' must be a string, got {platform!r}")
    if not isinstance(text, str):
        raise _Invalid(f"'text' must be a string, got {type(text).__name__}")
    mid = data["id"]
    if isinstance(mid, bool) or not isinstance(mid, str | int):
        raise _Invalid(f"'id' must be a string or an integer, got {mid!r}")
    strings: dict[str, str | None] = {}
    for key in OPTIONAL_STR:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise _Invalid(f"'{key}' must be a string, got {value!r}")
        strings[key] = value or None
    ints = {key: _int(data, key) for key in OPTIONAL_INT}
    return Mention(
        platform=platform,
        id=str(mid),
        created_at=_parse_time(data["created_at"]),
        text=text.replace("\x00", ""),
        url=strings["url"],
        author=strings["author"],
        author_followers=ints["author_followers"],
        lang=strings["lang"],
        likes=ints["likes"] or 0,
        reposts=ints["reposts"] or 0,
        replies=ints["replies"] or 0,
        topic=strings["topic"],
        in_reply_to=strings["in_reply_to"],
        extra={k: v for k, v in data.items() if k not in KNOWN},
    )


def iter_jsonl(lines: Iterable[str | bytes]) -> Iterator[Mention | LineError]:
    """One Mention or LineError per non-blank line, numbered from 1. Byte lines are decoded one
    by one, so a line that is not UTF-8 is reported and the rest of the file still counts."""
    for no, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8-sig" if no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield LineError(no, f"not valid UTF-8 (byte {exc.start + 1})")
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LineError(no, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            yield LineError(no, f"expected a JSON object, got {type(data).__name__}")
            continue
        try:
            yield mention_from_dict(data)
        except _Invalid as exc:
            yield LineError(no, str(exc))


def iter_csv(
    lines: Iterable[str], *, columns: Mapping[str, str] | None = None
) -> Iterator[Mention | LineError]:
    """CSV with a header row; `columns` maps CSV header names to field names."""
    reader = csv.DictReader(lines)
    mapping = dict(columns or {})
    for row in reader:
        no = reader.line_num
        data = {mapping.get(k, k): v for k, v in row.items() if k is not None}
        data = {k: v for k, v in data.items() if v not in (None, "") or k in REQUIRED}
        try:
            yield mention_from_dict(data)
        except _Invalid as exc:
            yield LineError(no, str(exc))


def read_mentions_file(
    path: Path, *, columns: Mapping[str, str] | None = None
) -> tuple[list[Mention], list[LineError]]:
    """Read a .jsonl/.ndjson/.json-lines or .csv file: (mentions, errors)."""
    mentions: list[Mention] = []
    errors: list[LineError] = []
    items: Iterator[Mention | LineError]
    if Path(path).suffix.lower() == ".csv":
        # A CSV row may span lines, so the file is decoded as a whole; a bad byte becomes U+FFFD.
        with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as f:
            items = iter_csv(f, columns=columns)
            _collect(items, mentions, errors)
    else:
        with Path(path).open("rb") as fb:
            _collect(iter_jsonl(fb), mentions, errors)
    return mentions, errors


def _collect(
    items: Iterator[Mention | LineError], mentions: list[Mention], errors: list[LineError]
) -> None:
    for item in items:
        if isinstance(item, LineError):
            errors.append(item)
        else:
            mentions.append(item)
