"""A batch of topics is evaluated with the statements of one: what every evaluation reads or
writes is read or written once for the batch (`worker.pipeline.evaluate_topics`), and a topic that
fails costs no other its evaluation (`worker.tasks.evaluate`). Statements are counted, not timed."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from worker.config import Topic, default_config
from worker.ingest import ingest_topics
from worker.jobs import Context, InlineQueue, run
from worker.model import Mention
from worker.pipeline import evaluate_topics
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import TopicState, VolumeStateRow
from worker.topic_series import SeriesCache

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
STEP = 300
TOPICS = [f"t{k:02d}" for k in range(12)]


def _mentions(topic: str, now: datetime, n: int, k0: int = 0) -> list[Mention]:
    return [
        Mention(
            platform=("bluesky", "reddit")[k % 2],
            id=f"{topic}-{k0 + k}",
            created_at=now - timedelta(minutes=1 + 7 * k),
            text=f"calm words about {topic} {k}",
            author=f"a{k % 5}",
            topic=topic,
        )
        for k in range(n)
    ]


def _evaluated_counting(
    engine: Any, sessions: Any, config: Any, now: datetime, cache: SeriesCache
) -> list[str]:
    """Evaluate every topic as one batch; the statements it ran (besides its BEGIN, which
    SQLite's driver sends lazily, and the signals it found)."""
    statements: list[str] = []

    def count(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if not sql.lstrip().upper().startswith(("INSERT INTO SIGNALS", "BEGIN")):
            statements.append(sql)

    with sessions.begin() as s:
        event.listen(engine, "before_cursor_execute", count)
        try:
            evaluate_topics(s, config, TOPICS, now, cache=cache)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return statements


def test_a_batch_reads_and_writes_once_for_all_its_topics(db_url: str) -> None:
    """Twelve active topics, one of which got a new mention: the batch runs five statements
    (versions and source health; that topic's changed buckets and new mentions; the volume
    state; the evaluated marks), where one transaction per topic ran four or more each."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    config = default_config(TOPICS)
    cache = SeriesCache()
    try:
        with sessions.begin() as s:
            ingest_topics(s, {t: _mentions(t, T0, 20) for t in TOPICS}, T0, bucket_seconds=STEP)
        with sessions.begin() as s:  # the first look: every topic's history is read
            evaluate_topics(s, config, TOPICS, T0 + timedelta(seconds=1), cache=cache)
        now = T0 + timedelta(minutes=5, seconds=1)
        with sessions.begin() as s:
            ingest_topics(s, {"t03": _mentions("t03", now, 1, 100)}, now, bucket_seconds=STEP)

        statements = _evaluated_counting(engine, sessions, config, now, cache)
        assert len(statements) <= 5, statements
        with sessions() as s:  # and every topic was marked as evaluated, through the new bucket
            rows = s.execute(select(TopicState.evaluated_version, TopicState.version)).all()
        assert len(rows) == len(TOPICS) and all(e == v for e, v in rows)
    finally:
        engine.dispose()


def test_a_batch_reads_every_topics_news_at_once_and_finds_what_each_alone_finds(
    tmp_path: Path,
) -> None:
    """Every topic gets new mentions at every tick, some of them late (for a bucket already
    evaluated), and one topic bursts: the batch reads all the topics' new bucket rows and new
    mentions with one statement each (five statements in all, not two more per topic), and finds
    the same signals and stores the same volume state as evaluating each topic alone, in a
    transaction of its own, on a second database fed the same mentions."""
    from worker.storage.models import SignalRow

    config = default_config(TOPICS)
    dbs = {}
    for name in ("batch", "alone"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        engine = make_engine(url)
        dbs[name] = (engine, make_sessionmaker(engine), SeriesCache())
    rng = random.Random(7)
    try:
        for tick in range(0, 14):
            now = T0 + timedelta(minutes=5 * tick, seconds=1)
            news = {}
            for t in TOPICS:
                ms = _mentions(t, now, 300 if tick == 0 else rng.randint(1, 3), 1000 * tick)
                if tick:  # one late mention, for a bucket evaluated ten minutes ago
                    late = now - timedelta(minutes=13)
                    ms.append(replace(ms[0], id=f"{ms[0].id}-late", created_at=late))
                if tick >= 9 and t == "t05":  # and t05 bursts: forty posts a bucket
                    ms += [
                        replace(
                            ms[0],
                            id=f"{t}-burst-{tick}-{k}",
                            text=f"terrible scam, worst service ever, I want a refund {k}",
                            author=f"angry{k}",
                            created_at=now - timedelta(seconds=5 + 7 * k),
                        )
                        for k in range(40)
                    ]
                news[t] = ms
            for name, (engine, sessions, cache) in dbs.items():
                with sessions.begin() as s:
                    ingest_topics(s, news, now, bucket_seconds=STEP)
                if name == "alone":
                    for t in TOPICS:
                        with sessions.begin() as s:
                            evaluate_topics(s, config, [t], now, cache=cache)
                    continue
                statements = _evaluated_counting(engine, sessions, config, now, cache)
                if tick:
                    assert len(statements) <= 5, statements

        def seen(name: str) -> tuple[list[Any], list[Any]]:
            with dbs[name][1]() as s:
                signals = s.execute(
                    select(
                        SignalRow.topic,
                        SignalRow.kind,
                        SignalRow.at,
                        SignalRow.score,
                        SignalRow.explanation,
                        SignalRow.top_mentions,
                    ).order_by(SignalRow.topic, SignalRow.at, SignalRow.kind)
                ).all()
                volume = s.execute(
                    select(VolumeStateRow).order_by(VolumeStateRow.topic, VolumeStateRow.start)
                ).scalars()
                return signals, [
                    (v.topic, v.start, v.value, v.expected, v.spread, v.surprise) for v in volume
                ]

        batch_signals, batch_volume = seen("batch")
        alone_signals, alone_volume = seen("alone")
        assert any(row[0] == "t05" for row in batch_signals)  # the burst was seen
        assert batch_signals == alone_signals
        assert batch_volume == alone_volume and len(batch_volume) > 12 * 14
    finally:
        for engine, _, _ in dbs.values():
            engine.dispose()


def test_one_failing_topic_costs_no_other_its_evaluation(sqlite_url: str) -> None:
    """A batch whose middle topic cannot be evaluated (its settings name no preset, as a config
    changed under a running worker might): the others are evaluated, each in a transaction of
    its own, and the task still fails, so the error is seen."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    base = default_config(["acme", "bad", "globex"])
    config = replace(
        base,
        topics={**base.topics, "bad": Topic(name="bad", display_name="bad", sensitivity="nope")},
    )
    queue = InlineQueue()
    ctx = Context(sessions, config, queue.send, online=False)
    queue.ctx = ctx
    try:
        with sessions.begin() as s:
            ingest_topics(
                s,
                {t: _mentions(t, T0, 10) for t in ("acme", "bad", "globex")},
                T0,
                bucket_seconds=STEP,
            )
        with pytest.raises(ValueError, match="unknown sensitivity"):
            run("detect.evaluate", ctx, T0 + timedelta(minutes=5), ["acme", "bad", "globex"])
        with sessions() as s:
            done = dict(s.execute(select(TopicState.topic, TopicState.evaluated_version)).all())
        assert done == {"acme": 1, "bad": 0, "globex": 1}
        # The failed batch had worked acme's volume state out in the (shared) series cache
        # before rolling back: the retry stores it all the same.
        with sessions() as s:
            kept = set(s.scalars(select(VolumeStateRow.topic).distinct()))
        assert kept == {"acme", "globex"}
    finally:
        engine.dispose()
