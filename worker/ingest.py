"""Ingest: from a page of mentions to stored, scored, counted mentions — in one transaction.

1. Normalise each mention (UTC time, NUL bytes removed, overlong text cut, topic set).
2. Detect its language and score its sentiment with the same code as `tocsin score-text`.
3. Insert it unless (topic, platform, external id) is already stored (ON CONFLICT DO NOTHING).
4. Recount every bucket the new mentions fall in, from the mentions table itself, so running the
   same page twice gives the same counts.
5. Advance the source's cursor — only if it is still the cursor the fetch started from, so a slow,
   stale poll never moves it backwards — and record the source as healthy.

The caller owns the transaction: all five steps commit together or not at all, which is what keeps
the cursor from ever passing mentions that were not stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.model import NEG, POS, Mention
from worker.storage.models import BucketRow, MentionRow, PollRow, Source


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    cursor_advanced: bool


def bucket_start(at: datetime, bucket_seconds: int) -> datetime:
    """The start of the bucket that `at` falls in (buckets are aligned on the Unix epoch)."""
    ts = int(at.timestamp())
    return datetime.fromtimestamp(ts - ts % bucket_seconds, UTC)


def normalise(mention: Mention, topic: str | None = None) -> Mention:
    """Step 1: make a mention safe and uniform to store. Text stays data: it is never interpreted.

    The one edge normaliser (`worker.normalize`): every field cut, cleaned or clamped to its
    column. Raises `worker.normalize.Unstorable` (a ValueError) for a mention that cannot be
    stored at all; sources filter those out first with `split_storable` and report them.
    """
    from worker.normalize import Unstorable, normalize_mention

    try:
        return normalize_mention(mention, topic)
    except Unstorable as exc:
        raise Unstorable(
            f"mention {str(mention.platform)[:40]}/{str(mention.id)[:100]}: {exc}"
        ) from None


def _crisis_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    words = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def store_mentions(
    session: Session,
    mentions: Iterable[Mention],
    now: datetime,
    *,
    topic: str | None = None,
    crisis_terms: Sequence[str] = (),
) -> tuple[int, int, set[tuple[str, str, datetime]]]:
    """Steps 1–3. Returns (received, stored, {(topic, platform, created_at)} of new rows)."""
    from worker.text import near_duplicate_key, score_text

    pattern = _crisis_pattern(crisis_terms)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for raw in mentions:
        m = normalise(raw, topic)
        key = (m.topic or "default", m.platform, m.id)
        if key in seen:  # the same id twice in one page: keep the first
            continue
        seen.add(key)
        scored = score_text(m.text, m.lang if m.lang in ("en", "fr") else "auto")
        rows.append(
            {
                "topic": m.topic,
                "platform": m.platform,
                "external_id": m.id,
                "created_at": m.created_at,
                "ingested_at": now,
                "text": m.text,
                "url": m.url,
                "author": m.author,
                "author_followers": m.author_followers,
                "lang": scored.lang,
                "polarity": scored.polarity,
                "label": scored.label,
                "likes": m.likes,
                "reposts": m.reposts,
                "replies": m.replies,
                "in_reply_to": m.in_reply_to,
                "dup_key": near_duplicate_key(m.text)[:64],
                "crisis_terms": len(pattern.findall(m.text)) if pattern else 0,
                "extra": dict(m.extra),
            }
        )
    if not rows:
        return 0, 0, set()
    table = MentionRow.__table__
    stmt = (
        _insert(session)(table)
        .on_conflict_do_nothing(index_elements=["topic", "platform", "external_id"])
        .returning(table.c.topic, table.c.platform, table.c.created_at)
    )
    touched: set[tuple[str, str, datetime]] = set()
    inserted = 0  # counted per row: `touched` is a set and merges rows with the same timestamp
    # Chunked so a 100k-line import never builds one giant statement (SQLite caps bound parameters).
    for i in range(0, len(rows), 500):
        for r in session.execute(stmt, rows[i : i + 500]).all():
            inserted += 1
            created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            touched.add((r.topic, r.platform, created))
    return len(rows), inserted, touched


def recount_buckets(
    session: Session, touched: Iterable[tuple[str, str, datetime]], bucket_seconds: int
) -> int:
    """Step 4: recompute each touched (topic, platform, bucket) from the stored mentions."""
    keys = {(t, p, bucket_start(at, bucket_seconds)) for t, p, at in touched}
    m = MentionRow
    for topic, platform, start in sorted(keys):
        end = start + timedelta(seconds=bucket_seconds)
        row = session.execute(
            select(
                func.count(),
                # Near-duplicates (same dup_key) count once for sentiment: a retweet storm of one
                # angry text is one negative text, flagged through `texts` < `count`.
                func.count(distinct(case((m.label == NEG, m.dup_key)))),
                func.count(distinct(case((m.label == POS, m.dup_key)))),
                func.count(distinct(m.author)),
                func.coalesce(func.sum(m.author_followers), 0),
                func.coalesce(func.sum(m.likes + m.reposts + m.replies), 0),
                func.coalesce(func.sum(m.crisis_terms), 0),
                func.count(distinct(m.dup_key)),
            ).where(
                and_(
                    m.topic == topic,
                    m.platform == platform,
                    m.created_at >= start,
                    m.created_at < end,
                )
            )
        ).one()
        values = {
            "count": int(row[0] or 0),
            "negative": int(row[1] or 0),
            "positive": int(row[2] or 0),
            "authors": int(row[3] or 0),
            "reach": int(row[4] or 0),
            "engagement": int(row[5] or 0),
            "crisis_terms": int(row[6] or 0),
            "texts": int(row[7] or 0),
        }
        stmt = _insert(session)(BucketRow.__table__).values(
            topic=topic, platform=platform, start=start, **values
        )
        session.execute(
            stmt.on_conflict_do_update(index_elements=["topic", "platform", "start"], set_=values)
        )
    return len(keys)


def ingest_page(
    session: Session,
    mentions: Sequence[Mention],
    now: datetime,
    *,
    bucket_seconds: int,
    topic: str | None = None,
    source_id: int | None = None,
    expected_cursor: Mapping[str, Any] | None = None,
    new_cursor: Mapping[str, Any] | None = None,
    crisis_terms: Sequence[str] = (),
) -> IngestResult:
    """Steps 1–5 in the caller's transaction. Safe to run twice with the same page."""
    received, stored, touched = store_mentions(
        session, mentions, now, topic=topic, crisis_terms=crisis_terms
    )
    recount_buckets(session, touched, bucket_seconds)
    advanced = False
    if source_id is not None:
        source = session.get(Source, source_id, with_for_update=True)
        if source is None:
            raise LookupError(f"source {source_id} does not exist")
        if new_cursor is not None and (
            expected_cursor is None or source.cursor == dict(expected_cursor)
        ):
            source.cursor = dict(new_cursor)
            advanced = True
        source.healthy = True
        source.last_success_at = now
        source.last_error = None
        source.consecutive_failures = 0
        source.polls_ok += 1
        source.mentions_total += stored
        session.add(
            PollRow(
                source_id=source.id,
                topic=source.topic,
                platform=source.platform,
                at=now,
                health="ok",
                fetched=received,
                new=stored,
            )
        )
    return IngestResult(received, stored, received - stored, advanced)
