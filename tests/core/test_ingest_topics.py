"""Several topics ingested at once (`ingest_topics`, a push or a replay's tick): the same rows,
versions and bucket counts as one `ingest_page` per topic, with the statements of one topic.
Statements are counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.config import default_config
from worker.ingest import ingest_page, ingest_topics
from worker.jobs import Context, run
from worker.model import Mention
from worker.normalize import TRUNCATED, normalize_mention
from worker.serialize import mention_to_json
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import BucketRow, MentionRow, TopicState
from worker.tasks import PUSH_NORMALISED

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
STEP = 300
NAMES = ("gamma", "alpha", "beta")  # not in name order: versions are bumped in name order


def _mentions(n: int, k0: int = 0, minutes: int = 0) -> list[Mention]:
    return [
        Mention(
            platform=("bluesky", "reddit")[k % 2],
            id=str(k0 + k),
            created_at=T0 + timedelta(minutes=minutes + 3 * k),
            text=("a terrible outage", "lovely service", "plain words")[k % 3],
            author=f"a{k % 4}",
            author_followers=10 * k,
            likes=k,
        )
        for k in range(n)
    ]


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if not sql.lstrip().upper().startswith("BEGIN"):
            seen.append(" ".join(sql.split())[:40].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _stored(s: Session, prefix: str) -> tuple[list[Any], list[Any], list[Any]]:
    """Mentions, buckets and versions of the topics named `prefix…`, without the prefix."""
    m, b, v = MentionRow.__table__.c, BucketRow.__table__.c, TopicState.__table__.c
    mentions = s.execute(
        select(*(c for c in m if c.name not in ("id", "topic")), m.topic)
        .where(m.topic.startswith(prefix))
        .order_by(m.topic, m.platform, m.external_id)
    ).all()
    buckets = s.execute(
        select(*(c for c in b if c.name != "topic"), b.topic)
        .where(b.topic.startswith(prefix))
        .order_by(b.topic, b.platform, b.start)
    ).all()
    versions = s.execute(
        select(v.version, v.last_mention_at, v.topic)
        .where(v.topic.startswith(prefix))
        .order_by(v.topic)
    ).all()

    def strip(rows: list[Any]) -> list[Any]:
        return [(*r[:-1], r[-1].removeprefix(prefix)) for r in rows]

    return strip(mentions), strip(buckets), strip(versions)


def test_several_topics_store_what_one_page_each_stores_with_the_statements_of_one(
    db_url: str,
) -> None:
    """Two rounds (the second recounts buckets the first wrote, with a duplicate): batched
    topics end with the rows, versions and counts of one `ingest_page` per topic; each round
    bumps every version with one statement and reads every bucket with one GROUP BY."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    rounds = [
        (_mentions(6), T0 + timedelta(minutes=20)),
        (_mentions(5, 4, 2), T0 + timedelta(hours=1)),
    ]
    try:
        for page, now in rounds:
            with sessions.begin() as s:
                for name in NAMES:
                    ingest_page(s, page, now, bucket_seconds=STEP, topic=f"one-{name}")
            with sessions.begin() as s, _statements(engine) as seen:
                ingest_topics(s, {f"all-{n}": page for n in NAMES}, now, bucket_seconds=STEP)
            heads = [" ".join(sql.split()[:3]) for sql in seen]
            assert heads == [
                "INSERT INTO TOPIC_STATE",
                "INSERT INTO MENTIONS",
                "SELECT MENTIONS.TOPIC, MENTIONS.PLATFORM",
                "INSERT INTO BUCKETS",
            ], seen
        with sessions() as s:
            batched, alone = _stored(s, "all-"), _stored(s, "one-")
            counted = s.scalar(
                select(func.sum(BucketRow.count)).where(BucketRow.topic.startswith("all-"))
            )
        assert batched == alone
        mentions, _, versions = batched
        # Per topic: 6 mentions, then 5 of which 2 were stored already.
        assert len(mentions) == counted == 3 * 9 and {v[0] for v in versions} == {2}
    finally:
        engine.dispose()


def test_versions_are_bumped_in_name_order(sqlite_url: str) -> None:
    """Two ingests of the same topics take the version rows' locks in the same order."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    params: list[Any] = []

    def capture(_c: Any, _cur: Any, sql: str, p: Any, *_: Any) -> None:
        if sql.startswith("INSERT INTO topic_state"):
            params.append(p)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with sessions.begin() as s:
            ingest_topics(s, {n: _mentions(2) for n in NAMES}, T0, bucket_seconds=STEP)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    assert len(params) == 1
    assert [v for v in params[0] if v in NAMES] == sorted(NAMES)


def _push(sessions: sessionmaker[Session], batches: dict[str, Any], normalised: bool) -> None:
    config = default_config(list(batches))
    ctx = Context(sessions, config, lambda *_: None, online=False)
    if normalised:
        ctx.extra[PUSH_NORMALISED] = True
    run("ingest.push", ctx, T0 + timedelta(hours=1), batches)


def test_a_replays_normalised_push_stores_what_a_live_push_stores(sqlite_url: str) -> None:
    """A replay hands the file reader's mentions (normalised once) and says so: stored as a live
    push stores the same mentions, which it normalises again; a live push of raw mentions is
    still normalised."""
    hostile = Mention(
        platform="bluesky\x00",
        id="7",
        created_at=T0 + timedelta(minutes=1),
        text="bad\x00 outage\x07" + "x" * 30_000,
        author="someone\nelse",
        likes=2**40,
        extra={"wide": {str(k): k for k in range(300)}, "nan": float("nan")},
    )
    raw = [hostile, *_mentions(4)]
    read = [normalize_mention(m, default_topic=None) for m in raw]  # as the file reader does
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        _push(sessions, {"replay-acme": [mention_to_json(m) for m in read]}, normalised=True)
        _push(sessions, {"live-acme": [mention_to_json(m) for m in read]}, normalised=False)
        with sessions() as s:
            replayed, live = _stored(s, "replay-"), _stored(s, "live-")
            assert replayed == live
            assert len(replayed[0]) == 5
        _push(sessions, {"raw-acme": [mention_to_json(m) for m in raw]}, normalised=False)
        with sessions() as s:
            row = s.scalars(
                select(MentionRow).where(
                    MentionRow.topic == "raw-acme", MentionRow.external_id == "7"
                )
            ).one()
        assert row.platform == "bluesky" and "\x00" not in row.text and row.text.endswith(TRUNCATED)
        assert row.likes < 2**31 and row.extra["nan"] is None and TRUNCATED in row.extra["wide"]
    finally:
        engine.dispose()
