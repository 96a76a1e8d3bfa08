"""The Mentions JSONL / CSV import path (DESIGN.md, "Interchange formats").

Each line is validated on its own: a bad one becomes a `LineError(line_no, reason)` and the rest
goes on. Required: platform, id, created_at (ISO 8601 with an offset), text. Optional: url, author,
author_followers, lang, likes, reposts, replies, topic, in_reply_to. Other keys go to `extra`.

Every record that passes is also run through the edge normaliser (`worker.normalize`), so what
comes out fits the database: over-long fields are cut with a marker, huge counts clamped, control
characters and NaN removed. A record the normaliser refuses (a time that cannot be expressed in
UTC, say) is a `LineError` like any other. Nothing here can raise on hostile input: nesting too
deep for the JSON parser, a date that overflows, or a CSV quote that is never closed are each
reported on their own line, and the next line is read as usual.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker.model import Mention
from worker.normalize import Unstorable, clean_text, cut, normalize_mention

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
        raise _Invalid(f"'created_at' must be an ISO 8601 string, got {value!r}"[:200])
    shown = value if len(value) <= 60 else value[:60] + "…"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"'created_at' is not an ISO 8601 time: {shown!r}") from None
    if when.tzinfo is None:
        raise _Invalid(f"'created_at' has no UTC offset: {shown!r} (write e.g. {shown}+00:00)")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise _Invalid(f"'created_at' cannot be expressed in UTC: {shown!r}") from None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN or Infinity: unknown, not a reason to lose the post
    if isinstance(value, float) and value >= 0 and value == int(value):
        value = int(value)  # 1e20 followers: a whole number, clamped by the normaliser
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"'{key}' must be a non-negative integer, got {value!r}"[:200])
    return value


def mention_from_dict(data: Mapping[str, Any]) -> Mention:
    """Validate and normalise one record; raise ValueError naming the field that is wrong."""
    try:
        return normalize_mention(_mention(data), default_topic=None)
    except Unstorable as exc:
        raise _Invalid(str(exc)) from None


def _mention(data: Mapping[str, Any]) -> Mention:
    for key in REQUIRED:
        if key not in data or data[key] is None or data[key] == "":
            raise _Invalid(f"missing required field '{key}'")
    platform, text = data["platform"], data["text"]
    if not isinstance(platform, str):
        raise _Invalid(f"'platform' must be a string, got {platform!r}"[:200])
    if not isinstance(text, str):
        raise _Invalid(f"'text' must be a string, got {type(text).__name__}")
    mid = data["id"]
    if isinstance(mid, bool) or not isinstance(mid, str | int):
        raise _Invalid(f"'id' must be a string or an integer, got {mid!r}"[:200])
    strings: dict[str, str | None] = {}
    for key in OPTIONAL_STR:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise _Invalid(f"'{key}' must be a string, got {value!r}"[:200])
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


def _error(no: int, reason: str) -> LineError:
    """A LineError whose reason is safe to print: one line, no control characters, bounded."""
    return LineError(no, cut(clean_text(reason), 300))


def iter_jsonl(lines: Iterable[str | bytes]) -> Iterator[Mention | LineError]:
    """One Mention or LineError per non-blank line, numbered from 1. Byte lines are decoded one
    by one, so a line that is not UTF-8 is reported and the rest of the file still counts."""
    for _no, item in iter_jsonl_numbered(lines):
        yield item


def iter_jsonl_numbered(
    lines: Iterable[str | bytes],
) -> Iterator[tuple[int, Mention | LineError]]:
    """`iter_jsonl` with the line number of each Mention too (for `FILE:LINE:` reports)."""
    for no, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8-sig" if no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield no, _error(no, f"not valid UTF-8 (byte {exc.start + 1})")
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield no, _error(no, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield no, _error(no, "JSON nested too deeply")
            continue
        if not isinstance(data, dict):
            yield no, _error(no, f"expected a JSON object, got {type(data).__name__}")
            continue
        try:
            yield no, mention_from_dict(data)
        except (_Invalid, RecursionError) as exc:
            yield no, _error(no, str(exc) if isinstance(exc, _Invalid) else "nested too deeply")


#: A quoted CSV field may span lines (a post with line breaks), but not more than this many.
CSV_MAX_RECORD_LINES = 200


def _quote_open(text: str) -> bool:
    """Inside a quoted field at the end of `text`? Quotes are doubled inside fields, so parity."""
    return text.count('"') % 2 == 1


def iter_csv(
    lines: Iterable[str], *, columns: Mapping[str, str] | None = None
) -> Iterator[Mention | LineError]:
    """CSV with a header row; `columns` maps CSV header names to field names."""
    for _, item in iter_csv_numbered(lines, columns=columns):
        yield item


def iter_csv_numbered(
    lines: Iterable[str], *, columns: Mapping[str, str] | None = None
) -> Iterator[tuple[int, Mention | LineError]]:
    """`iter_csv` with the (first) line number of each record.

    Records are assembled from physical lines by hand rather than by `csv.DictReader`, because
    the csv module lets a quote that is never closed swallow every following row into one field.
    Here a record that spans lines is refused when one of its continuation lines is, on its own,
    a valid row (the sign of a stray quote), when it is still open at the end of the file, or when
    it spans more than `CSV_MAX_RECORD_LINES` lines; the error names its first line and reading
    starts again on the next one, so the rows after it are kept.
    """
    # A 10 MB post is cut by the normaliser later; the csv module must not refuse it first.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 2**20))
    physical = list(lines)
    mapping = dict(columns or {})
    header: list[str] | None = None
    i = 0

    def parse(text: str) -> list[str]:
        rows = list(csv.reader([text], strict=True))
        return rows[0] if rows else []

    def record(fields: list[str]) -> dict[str, Any]:
        assert header is not None
        data = {mapping.get(k, k): v for k, v in zip(header, fields, strict=False)}
        return {k: v for k, v in data.items() if v not in (None, "") or k in REQUIRED}

    def looks_like_row(line: str) -> bool:
        if header is None or _quote_open(line):
            return False
        try:
            fields = parse(line.rstrip("\r\n"))
            mention_from_dict(record(fields))
        except (csv.Error, _Invalid):
            return False
        return len(fields) == len(header)

    while i < len(physical):
        first = i
        text = physical[i]
        i += 1
        while _quote_open(text) and i < len(physical) and i - first < CSV_MAX_RECORD_LINES:
            if looks_like_row(physical[i]):
                break
            text += physical[i]
            i += 1
        if _quote_open(text):
            yield first + 1, _error(first + 1, "unterminated quote: this row is skipped")
            i = first + 1
            continue
        if not text.strip():
            continue
        try:
            fields = parse(text.rstrip("\r\n"))
        except csv.Error as exc:
            yield first + 1, _error(first + 1, f"not valid CSV ({exc})")
            continue
        if header is None:
            header = [h.strip() for h in fields]
            continue
        try:
            yield first + 1, mention_from_dict(record(fields))
        except _Invalid as exc:
            yield first + 1, _error(first + 1, str(exc))


def read_numbered(
    path: Path, *, columns: Mapping[str, str] | None = None
) -> tuple[list[tuple[int, Mention]], list[LineError]]:
    """Read a .jsonl/.ndjson/.json-lines or .csv file: ([(line, mention)], errors)."""
    mentions: list[tuple[int, Mention]] = []
    errors: list[LineError] = []
    items: Iterator[tuple[int, Mention | LineError]]
    if Path(path).suffix.lower() == ".csv":
        # A CSV row may span lines, so the file is decoded as a whole; a bad byte becomes U+FFFD.
        with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as f:
            items = iter_csv_numbered(f, columns=columns)
            _collect(items, mentions, errors)
    else:
        with Path(path).open("rb") as fb:
            _collect(iter_jsonl_numbered(fb), mentions, errors)
    return mentions, errors


def read_mentions_file(
    path: Path, *, columns: Mapping[str, str] | None = None
) -> tuple[list[Mention], list[LineError]]:
    """Read a .jsonl/.ndjson/.json-lines or .csv file: (mentions, errors)."""
    numbered, errors = read_numbered(path, columns=columns)
    return [m for _, m in numbered], errors


def _collect(
    items: Iterator[tuple[int, Mention | LineError]],
    mentions: list[tuple[int, Mention]],
    errors: list[LineError],
) -> None:
    for no, item in items:
        if isinstance(item, LineError):
            errors.append(item)
        else:
            mentions.append((no, item))
