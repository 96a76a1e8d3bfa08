"""A batch of topics is evaluated with the statements of one: what every evaluation reads or
writes is read or written once for the batch (`worker.pipeline.evaluate_topics`), and a topic that
fails costs no other its evaluation (`worker.tasks.evaluate`). Statements are counted, not timed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from worker.config import Topic, default_config
from worker.ingest import ingest_topics
from worker.jobs import Context, InlineQueue, run
from worker.model import Mention
from worker.pipeline import evaluate_topics
from worker.storage.db import make_engine, make_sessionmaker
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

        statements: list[str] = []

        def count(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
            head = sql.lstrip().upper()
            if not head.startswith(("INSERT INTO SIGNALS", "BEGIN")):  # SQLite's lazy BEGIN
                statements.append(sql)

        with sessions.begin() as s:
            event.listen(engine, "before_cursor_execute", count)
            try:
                evaluate_topics(s, config, TOPICS, now, cache=cache)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        assert len(statements) <= 5, statements
        with sessions() as s:  # and every topic was marked as evaluated, through the new bucket
            rows = s.execute(select(TopicState.evaluated_version, TopicState.version)).all()
        assert len(rows) == len(TOPICS) and all(e == v for e, v in rows)
    finally:
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
