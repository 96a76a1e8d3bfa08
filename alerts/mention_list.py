"""The mention list: stored mentions newest first, filtered, in pages (the API and the dashboard).

Paging is by keyset, not offset: a page ends at (created_at, id) of its last row, and the next page
asks for rows strictly before it in the order `created_at DESC, id DESC`. A page therefore costs
the same on the first and the ten-thousandth page, and rows stored between two requests never make
a row appear twice or be skipped (a newer row is simply not on the later pages; a late row older
than the cursor shows where it belongs). The cursor is opaque to callers (base64url of a small
JSON object); a cursor that does not decode is a `ValueError`.

Filters: `topic`, `platform`, `lang`, `label` (neg/neu/pos) and `author` are equalities; `since`
(inclusive) and `until` (exclusive) bound `created_at`; `q` is a case-insensitive substring of the
text, 3 to 200 characters (`ILIKE`, served by a trigram index on PostgreSQL, see migration
0008_mention_list; a trigram index cannot serve fewer than 3 characters).
Indexes and measured speed: `docs/benchmarks.md` ("Mention list").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.orm import Session

from worker.storage.models import MentionRow

MAX_LIMIT = 200
MAX_Q = 200
#: Shorter searches cannot use the trigram index and would read the whole topic.
MIN_Q = 3
#: The keys of every item, in order (the API's `Mention` model lists the same).
ITEM_KEYS = (
    "id",
    "topic",
    "platform",
    "platform_id",
    "url",
    "author",
    "text",
    "lang",
    "label",
    "score",
    "reach",
    "created_at",
)


@dataclass(frozen=True)
class MentionFilter:
    topic: str | None = None
    q: str | None = None
    platform: str | None = None
    lang: str | None = None
    label: str | None = None
    author: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class MentionPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: int) -> str:
    raw = json.dumps({"t": created_at.astimezone(UTC).isoformat(), "i": row_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(created_at, id) of the last row of the previous page; ValueError if it is not a cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        at = datetime.fromisoformat(data["t"])
        row_id = data["i"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ValueError("cursor: not a cursor from this list (ask for the first page)") from None
    if (
        at.tzinfo is None
        or not isinstance(row_id, int)
        or isinstance(row_id, bool)
        or not 0 <= row_id < 2**63
    ):
        raise ValueError("cursor: not a cursor from this list (ask for the first page)")
    return at, row_id


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name}: give the UTC offset too, e.g. 2026-11-06T14:00:00+00:00")
    return value


def _where(stmt: Any, f: MentionFilter) -> Any:
    m = MentionRow
    for column, value in (
        (m.topic, f.topic),
        (m.platform, f.platform),
        (m.lang, f.lang),
        (m.label, f.label),
        (m.author, f.author),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(m.created_at >= _aware(f.since, "since"))
    if f.until is not None:
        stmt = stmt.where(m.created_at < _aware(f.until, "until"))
    if f.q is not None:
        if not MIN_Q <= len(f.q) <= MAX_Q:
            raise ValueError(f"q: between {MIN_Q} and {MAX_Q} characters")
        stmt = stmt.where(m.text.icontains(f.q, autoescape=True))
    return stmt


#: Only the columns a page shows (not `extra`, counts, keys): less to read, send and build.
_COLUMNS = (
    MentionRow.id,
    MentionRow.topic,
    MentionRow.platform,
    MentionRow.external_id,
    MentionRow.url,
    MentionRow.author,
    MentionRow.text,
    MentionRow.lang,
    MentionRow.label,
    MentionRow.polarity,
    MentionRow.author_followers,
    MentionRow.created_at,
)


def item(row: Any) -> dict[str, Any]:
    """One mention as the API shows it (text as stored: escaping is the renderer's job)."""
    return {
        "id": row.id,
        "topic": row.topic,
        "platform": row.platform,
        "platform_id": row.external_id,
        "url": row.url,
        "author": row.author,
        "text": row.text,
        "lang": row.lang,
        "label": row.label,
        "score": row.polarity,
        "reach": row.author_followers or 0,
        "created_at": row.created_at.astimezone(UTC).isoformat(),
    }


def page_statement(f: MentionFilter, cursor: str | None, limit: int) -> Select[Any]:
    """The SELECT of one page (`limit + 1` rows: one more tells whether there is a next page)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: between 1 and {MAX_LIMIT}, got {limit}")
    m = MentionRow
    stmt = _where(select(*_COLUMNS), f)
    if cursor is not None:
        at, row_id = decode_cursor(cursor)
        # Typed binds: the UTC conversion of `UtcDateTime` applies to the cursor's time too.
        after = tuple_(literal(at, m.created_at.type), literal(row_id, m.id.type))
        stmt = stmt.where(tuple_(m.created_at, m.id) < after)
    return stmt.order_by(m.created_at.desc(), m.id.desc()).limit(limit + 1)


def list_mentions(
    session: Session, f: MentionFilter, cursor: str | None = None, limit: int = 50
) -> MentionPage:
    """One page of mentions matching `f`, newest first, after `cursor` (None: the first page)."""
    rows = list(session.execute(page_statement(f, cursor, limit)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return MentionPage(items=[item(r) for r in rows], next_cursor=next_cursor)


__all__ = [
    "ITEM_KEYS",
    "MentionFilter",
    "MentionPage",
    "decode_cursor",
    "encode_cursor",
    "list_mentions",
    "page_statement",
]
