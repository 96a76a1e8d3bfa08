"""Ingest: from a page of mentions to stored, scored, counted mentions — in one transaction.

1. Normalise each mention (UTC time, NUL bytes removed, overlong text cut, topic set).
2. Detect its language and score its sentiment with the same code as `tocsin score-text`.
3. Insert it unless (topic, platform, external id) is already stored (ON CONFLICT DO NOTHING).
4. Recount every bucket the new mentions fall in, from the mentions table itself, so running the
   same page twice gives the same counts: one GROUP BY and one batched UPSERT for every topic of
   the page or push, stamped with each topic's new data version (`topic_state`, bumped for every
   topic by one statement), which is what lets an evaluation read only what changed since its
   last look.
5. Advance the source's cursor — only if it is still the cursor the fetch started from, so a slow,
   stale poll never moves it backwards — and record the source as healthy.

The caller owns the transaction: all five steps commit together or not at all, which is what keeps
the cursor from ever passing mentions that were not stored.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    case,
    distinct,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from worker.model import NEG, POS, Mention
from worker.storage.dialect import bucket_epoch, insert_new, prebuilt, upsert_many
from worker.storage.models import BucketRow, MentionRow, PollRow, Source, TopicState


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


@functools.lru_cache(maxsize=256)
def _topic_name(topic: str) -> str:
    """The topic as `worker.normalize` stores it (raises `Unstorable` as it would)."""
    from worker.normalize import TOPIC_MAX, Unstorable, clean_text

    name = clean_text(str(topic))
    if not name or len(name) > TOPIC_MAX:
        raise Unstorable(f"'topic' must be 1–{TOPIC_MAX} characters")
    return name


@functools.lru_cache(maxsize=256)
def _crisis_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled pattern per set of terms (every page of a topic uses the same)."""
    words = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )


def store_mentions(
    session: Session,
    mentions: Iterable[Mention],
    now: datetime,
    *,
    topic: str | None = None,
    crisis_terms: Sequence[str] = (),
    versions: Mapping[str, int] | None = None,
    normalised: bool = False,
) -> tuple[int, int, set[tuple[str, str, datetime]]]:
    """Steps 1–3. Returns (received, stored, {(topic, platform, created_at)} of new rows).

    `versions` (topic → data version of this ingest) stamps each row's `seq`, so an evaluation
    reads only the mentions written since its last look (`worker.topic_series`). `normalised`:
    the caller already ran `worker.normalize` over the mentions with this `topic` (the edge
    normaliser is idempotent, so a second pass would change nothing and cost a fifth of it)."""
    rows = _mention_rows(mentions, now, topic, crisis_terms, versions, normalised)
    if not rows:
        return 0, 0, set()
    new, touched = _insert_mentions(session, rows)
    return len(rows), sum(new.values()), touched


def _mention_rows(
    mentions: Iterable[Mention],
    now: datetime,
    topic: str | None,
    crisis_terms: Sequence[str],
    versions: Mapping[str, int] | None,
    normalised: bool,
) -> list[dict[str, Any]]:
    """Steps 1–2: the `mentions` rows to insert (see `store_mentions`)."""
    from worker.normalize import clean_json
    from worker.text import near_duplicate_key, score_text

    pattern = _crisis_pattern(tuple(crisis_terms))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    name = _topic_name(topic) if normalised and topic is not None else None
    for raw in mentions:
        m = raw if normalised else normalise(raw, topic)
        t = name or m.topic
        extra = dict(m.extra)
        if normalised and extra:
            # The one part of a normalised mention that a second pass changes (a cut dict's
            # marker is counted again): kept as it was stored when every mention went twice.
            extra = clean_json(extra)
        key = (t or "default", m.platform, m.id)
        if key in seen:  # the same id twice in one page: keep the first
            continue
        seen.add(key)
        scored = score_text(m.text, m.lang if m.lang in ("en", "fr") else "auto")
        rows.append(
            {
                "topic": t,
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
                "extra": extra,
                "seq": (versions or {}).get(t or "default", 0),
            }
        )
    return rows


def _insert_mentions(
    session: Session, rows: list[dict[str, Any]]
) -> tuple[dict[str, int], set[tuple[str, str, datetime]]]:
    """Step 3: insert the rows; (per topic how many were new, {(topic, platform, created_at)}
    of those)."""
    touched: set[tuple[str, str, datetime]] = set()
    # Counted per row: `touched` is a set and merges rows with the same timestamp.
    inserted: dict[str, int] = {}
    # Chunked so a 100k-line import never builds one giant statement (SQLite caps bound parameters).
    new = insert_new(
        session,
        typing.cast(Table, MentionRow.__table__),
        rows,
        unique=("topic", "platform", "external_id"),
        returning=("topic", "platform", "created_at"),
    )
    for t, platform, created in new:
        inserted[t] = inserted.get(t, 0) + 1
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        touched.add((t, platform, created))
    return inserted, touched


_FIELDS = (
    "count",
    "negative",
    "positive",
    "authors",
    "reach",
    "engagement",
    "crisis_terms",
    "texts",
)


_COUNTS: dict[tuple[str, int, int], Any] = {}

#: Topics whose buckets one GROUP BY reads at most (its WHERE has a term per topic, and SQLite
#: caps the depth of an expression at 1,000).
COUNT_TOPICS = 50


def _counts(session: Session, bucket_seconds: int, topics: int) -> Any:
    """One statement: the counts of every bucket of `topics` topics' platforms, each topic in
    its own range [lo_i, hi_i) (parameters topic_i, lo_i, hi_i for i < topics, and platforms)."""
    key = (session.get_bind().dialect.name, bucket_seconds, topics)
    if key not in _COUNTS:
        m = MentionRow.__table__.c
        epoch = bucket_epoch(m.created_at, bucket_seconds, session).label("epoch")
        ranges = [
            and_(
                m.topic == bindparam(f"topic_{i}"),
                m.created_at >= bindparam(f"lo_{i}"),
                m.created_at < bindparam(f"hi_{i}"),
            )
            for i in range(topics)
        ]
        _COUNTS[key] = (
            select(
                m.topic,
                m.platform,
                epoch,
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
            )
            .where(
                ranges[0] if topics == 1 else or_(*ranges),
                m.platform.in_(bindparam("platforms", expanding=True)),
            )
            .group_by(m.topic, m.platform, epoch)
        )
    return _COUNTS[key]


@prebuilt
def _upsert_buckets(insert: Any) -> Any:
    stmt = insert(BucketRow.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["topic", "platform", "start"],
        set_={f: stmt.excluded[f] for f in (*_FIELDS, "seq")},
    )


def recount_buckets(
    session: Session,
    touched: Iterable[tuple[str, str, datetime]],
    bucket_seconds: int,
    versions: Mapping[str, int] | None = None,
) -> int:
    """Step 4: recompute each touched (topic, platform, bucket) from the stored mentions.

    Read every touched bucket's counts with one GROUP BY (per `COUNT_TOPICS` topics, each topic
    read over the range of its own touched buckets); then write them all with one batched
    UPSERT, each stamped with its topic's data version of this ingest (`versions`; bumped here,
    in one statement, for the topics it lacks). Returns how many buckets were written.
    """
    keys: set[tuple[str, str, datetime]] = set()
    ranges: dict[str, tuple[datetime, datetime]] = {}
    latest: dict[str, datetime] = {}
    for t, p, at in touched:
        start = bucket_start(at, bucket_seconds)
        keys.add((t, p, start))
        lo, hi = ranges.get(t, (start, start))
        ranges[t] = (min(lo, start), max(hi, start))
        latest[t] = max(latest.get(t, at), at)
    if not keys:
        return 0
    have = versions or {}
    stamped = bump_versions(session, {t: latest[t] for t in latest if not have.get(t)})
    stamped.update({t: have[t] for t in latest if have.get(t)})
    width = timedelta(seconds=bucket_seconds)
    platforms = sorted({p for _, p, _ in keys})
    topics = sorted(ranges)
    values: list[dict[str, Any]] = []
    for i in range(0, len(topics), COUNT_TOPICS):
        chunk = topics[i : i + COUNT_TOPICS]
        params: dict[str, Any] = {"platforms": platforms}
        for k, topic in enumerate(chunk):
            lo, hi = ranges[topic]
            params.update({f"topic_{k}": topic, f"lo_{k}": lo, f"hi_{k}": hi + width})
        rows = session.execute(_counts(session, bucket_seconds, len(chunk)), params).all()
        for topic, platform, epoch_s, *counts in rows:
            start = datetime.fromtimestamp(int(epoch_s), UTC)
            if (topic, platform, start) not in keys:
                continue  # inside the range but not touched by this page: unchanged
            values.append(
                {
                    "topic": topic,
                    "platform": platform,
                    "start": start,
                    "seq": stamped[topic],
                    **{f: int(v or 0) for f, v in zip(_FIELDS, counts, strict=True)},
                }
            )
    # Every topic's buckets in one UPSERT (a replay's tick recounts many topics at once), in key
    # order: two ingests of the same buckets take their row locks in the same order.
    values.sort(key=lambda v: (v["topic"], v["platform"], v["start"]))
    upsert_many(
        session,
        typing.cast(Table, BucketRow.__table__),
        values,
        unique=("topic", "platform", "start"),
        update=(*_FIELDS, "seq"),
        fallback=_upsert_buckets(session),
    )
    return len(values)


@prebuilt
def _bump(insert: Any) -> Any:
    t = TopicState.__table__
    stmt = insert(t).values(
        topic=bindparam("topic"),
        version=1,
        evaluated_version=0,
        last_mention_at=bindparam("latest", type_=t.c.last_mention_at.type),
    )
    newer = t.c.last_mention_at.is_(None) | (stmt.excluded.last_mention_at > t.c.last_mention_at)
    return stmt.on_conflict_do_update(
        index_elements=["topic"],
        set_={
            "version": t.c.version + 1,
            "last_mention_at": case(
                (stmt.excluded.last_mention_at.is_(None), t.c.last_mention_at),
                (newer, stmt.excluded.last_mention_at),
                else_=t.c.last_mention_at,
            ),
        },
    ).returning(t.c.version, t.c.topic)


def bump_versions(session: Session, latest: Mapping[str, datetime | None]) -> dict[str, int]:
    """Increment each topic's data version (creating its row) in one statement, given each
    topic's newest mention's time: topic → its new version.

    The UPSERT takes each row's lock until the transaction ends, so two ingests of one topic
    commit their versions in order (see `TopicState`); the rows go in name order, so two ingests
    of the same topics take their locks in the same order (no deadlock)."""
    if not latest:
        return {}
    stmt = _bump(session)
    params = [{"topic": t, "latest": latest[t]} for t in sorted(latest)]
    # One row: a plain execute (an executemany of one costs more); several: one multi-row
    # INSERT … ON CONFLICT … RETURNING (SQLAlchemy's "insertmanyvalues"), rows in this order.
    rows = session.execute(stmt, params[0] if len(params) == 1 else params).all()
    return {t: int(v) for v, t in rows}


_SOURCE = Source.__table__.c
#: Column-level statements for step 5 (the ORM's get, unit of work and flush cost more than
#: the three statements themselves on a page of 100 mentions).
_LOCK_SOURCE = (
    select(_SOURCE.topic, _SOURCE.platform, _SOURCE.cursor)
    .where(_SOURCE.id == bindparam("id"))
    .with_for_update()
)
_SOURCE_OK = (
    update(typing.cast(Table, Source.__table__))
    .where(_SOURCE.id == bindparam("sid"))
    .values(
        healthy=True,
        last_success_at=bindparam("now", type_=_SOURCE.last_success_at.type),
        last_error=None,
        consecutive_failures=0,
        polls_ok=_SOURCE.polls_ok + 1,
        mentions_total=_SOURCE.mentions_total + bindparam("stored", type_=Integer),
    )
)
_SOURCE_OK_CURSOR = _SOURCE_OK.values(cursor=bindparam("cursor", type_=_SOURCE.cursor.type))
_POLL = insert(typing.cast(Table, PollRow.__table__)).values(
    source_id=bindparam("sid"),
    topic=bindparam("topic"),
    platform=bindparam("platform"),
    at=bindparam("now", type_=PollRow.__table__.c.at.type),
    health="ok",
    fetched=bindparam("fetched"),
    new=bindparam("new"),
)


def _record_success(
    session: Session,
    source_id: int,
    now: datetime,
    received: int,
    stored: int,
    expected_cursor: Mapping[str, Any] | None,
    new_cursor: Mapping[str, Any] | None,
) -> bool:
    """Step 5: advance the cursor if it is still the expected one, mark the source healthy and
    record the poll. Returns whether the cursor moved."""
    row = session.execute(_LOCK_SOURCE, {"id": source_id}).first()
    if row is None:
        raise LookupError(f"source {source_id} does not exist")
    topic, platform, cursor = row
    advanced = new_cursor is not None and (
        expected_cursor is None or cursor == dict(expected_cursor)
    )
    params = {"sid": source_id, "now": now, "stored": stored}
    if advanced:
        session.execute(_SOURCE_OK_CURSOR, {**params, "cursor": dict(new_cursor or {})})
    else:
        session.execute(_SOURCE_OK, params)
    session.execute(
        _POLL,
        {
            "sid": source_id,
            "topic": topic,
            "platform": platform,
            "now": now,
            "fetched": received,
            "new": stored,
        },
    )
    return advanced


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
    normalised: bool = False,
) -> IngestResult:
    """Steps 1–5 in the caller's transaction. Safe to run twice with the same page.

    `normalised`: every mention is already `normalize_mention(m, topic)`'s result (the page
    job normalises at the edge to report refused entries), so step 1 is not run twice."""
    # The page's topics get their new data version first (in name order, so two ingests of
    # the same topics take the row locks in the same order); mentions and buckets carry it.
    latest: dict[str, datetime] = {}
    for m in mentions:
        t = topic or m.topic or "default"
        if m.created_at.tzinfo is not None and (t not in latest or m.created_at > latest[t]):
            latest[t] = m.created_at
    versions = bump_versions(session, latest)
    received, stored, touched = store_mentions(
        session,
        mentions,
        now,
        topic=topic,
        crisis_terms=crisis_terms,
        versions=versions,
        normalised=normalised,
    )
    recount_buckets(session, touched, bucket_seconds, versions)
    advanced = False
    if source_id is not None:
        advanced = _record_success(
            session, source_id, now, received, stored, expected_cursor, new_cursor
        )
    return IngestResult(received, stored, received - stored, advanced)


def ingest_topics(
    session: Session,
    batches: Mapping[str, Sequence[Mention]],
    now: datetime,
    *,
    bucket_seconds: int,
    crisis_terms: Mapping[str, Sequence[str]] | None = None,
    normalised: bool = False,
) -> dict[str, IngestResult]:
    """Steps 1–4 for several topics' mentions handed over without a source (a push, a replay's
    tick), in the caller's one transaction: the same rows, versions and counts as one
    `ingest_page(session, mentions, now, topic=t, …)` per topic in the order given, with one
    statement bumping every topic's version, one INSERT for every topic's mentions, one GROUP
    BY reading and one UPSERT writing every topic's buckets. `normalised`: as for
    `ingest_page` (each mention is already `normalize_mention`'s result)."""
    latest: dict[str, datetime] = {}
    for t, mentions in batches.items():
        for m in mentions:
            if m.created_at.tzinfo is not None and (t not in latest or m.created_at > latest[t]):
                latest[t] = m.created_at
    versions = bump_versions(session, latest)
    rows: list[dict[str, Any]] = []
    received: dict[str, int] = {}
    for t, mentions in batches.items():
        terms = (crisis_terms or {}).get(t, ())
        mine = _mention_rows(mentions, now, t, terms, versions, normalised)
        received[_topic_name(t)] = len(mine)
        rows.extend(mine)
    new, touched = _insert_mentions(session, rows) if rows else ({}, set())
    recount_buckets(session, touched, bucket_seconds, versions)
    out = {}
    for t in batches:
        name = _topic_name(t)
        out[t] = IngestResult(
            received[name], new.get(name, 0), received[name] - new.get(name, 0), False
        )
    return out
