"""The listening side's database steps, shared by the Celery tasks and the offline replay.

- `sync_sources`, `claim_due_sources`, `record_poll_failure`, `source_health`: the polling
  schedule and source health, kept in `worker.sources.schedule` and re-exported here.
- `load_series` + `evaluate_topic`: bucket series → detectors → stored signals (new ids returned,
  for the caller to hand to the alerts side by task name after commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.config import Config
from worker.detection import evaluate, series
from worker.detection.core import DetectionSettings, volume_state
from worker.detection.series import VolumeState
from worker.ingest import bucket_start
from worker.model import Bucket, Mention, Signal
from worker.sources.schedule import (
    claim_due_sources,
    record_poll_failure,
    source_health,
    sync_sources,
)
from worker.storage.models import (
    BucketRow,
    MentionRow,
    SignalRow,
    VolumeStateRow,
)

__all__ = [
    "claim_due_sources",
    "evaluate_topic",
    "load_series",
    "record_poll_failure",
    "source_health",
    "store_signals",
    "sync_sources",
]

HISTORY = timedelta(days=28)


def load_series(
    session: Session, topic: str, now: datetime, bucket_seconds: int, history: timedelta = HISTORY
) -> tuple[list[Bucket], dict[str, list[Bucket]]]:
    """Completed buckets of the topic over `history`, gaps filled with zeros, summed and per platform."""
    end = bucket_start(now, bucket_seconds)  # the bucket containing `now` is not complete yet
    start = bucket_start(now - history, bucket_seconds)
    # No need for weeks of zeros before a topic's first mention (a new topic, or a replay).
    first = session.scalar(select(func.min(BucketRow.start)).where(BucketRow.topic == topic))
    if first is None:
        return [], {}
    start = max(start, first)
    n = int((end - start).total_seconds()) // bucket_seconds
    rows = session.scalars(
        select(BucketRow).where(
            BucketRow.topic == topic, BucketRow.start >= start, BucketRow.start < end
        )
    ).all()
    fields = (
        "count",
        "negative",
        "positive",
        "authors",
        "reach",
        "engagement",
        "crisis_terms",
        "texts",
    )
    total = [[0] * len(fields) for _ in range(n)]
    per: dict[str, list[list[int]]] = {}
    for r in rows:
        i = int((r.start - start).total_seconds()) // bucket_seconds
        if not 0 <= i < n:
            continue
        values = [getattr(r, f) for f in fields]
        plat = per.get(r.platform)
        if plat is None:
            plat = per[r.platform] = [[0] * len(fields) for _ in range(n)]
        for j, v in enumerate(values):
            total[i][j] += v
            plat[i][j] += v

    def buckets(rows_: list[list[int]]) -> list[Bucket]:
        return [
            Bucket(start + timedelta(seconds=i * bucket_seconds), *row)
            for i, row in enumerate(rows_)
        ]

    return buckets(total), {p: buckets(v) for p, v in per.items()}


def recent_mentions(
    session: Session, topic: str, since: datetime, until: datetime, limit: int = 2000
) -> list[Mention]:
    rows = session.scalars(
        select(MentionRow)
        .where(
            MentionRow.topic == topic, MentionRow.created_at >= since, MentionRow.created_at < until
        )
        .order_by(MentionRow.created_at.desc())
        .limit(limit)
    ).all()
    return [
        Mention(
            platform=r.platform,
            id=r.external_id,
            created_at=r.created_at,
            text=r.text,
            url=r.url,
            author=r.author,
            author_followers=r.author_followers,
            lang=r.lang,
            likes=r.likes,
            reposts=r.reposts,
            replies=r.replies,
            topic=r.topic,
            in_reply_to=r.in_reply_to,
            extra={"label": r.label, "polarity": r.polarity, "dup_key": r.dup_key},
        )
        for r in rows
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def store_signals(session: Session, signals: Sequence[Signal]) -> list[int]:
    """Insert signals unless (topic, kind, at) is already stored; return the ids of the new ones."""
    if not signals:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ids = []
    for s in signals:
        stmt = (
            insert(SignalRow)
            .values(
                topic=s.topic,
                kind=s.kind,
                at=s.at,
                score=float(s.score),
                severity=int(s.severity),
                explanation=s.explanation,
                evidence=_jsonable(asdict(s.evidence)),
                top_mentions=list(s.top_mentions),
            )
            .on_conflict_do_nothing(index_elements=["topic", "kind", "at"])
            .returning(SignalRow.id)
        )
        new_id = session.execute(stmt).scalar()
        if new_id is not None:
            ids.append(int(new_id))
    return ids


def load_volume_state(
    session: Session, topic: str, buckets: Sequence[Bucket], settings: DetectionSettings
) -> VolumeState:
    """The volume detector's state for `buckets`: stored values, the missing ones worked out and
    stored (the newest bucket, or a whole history after an import or a gap).

    Each stored row carries the count it was worked out from. Late mentions recount a bucket
    after it was judged; from the first bucket whose count changed (or whose row is missing
    between stored ones) onwards, every later bucket's expected count, spread and surprise may
    depend on it, so they are all worked out again. The state then equals a batch run over the
    counts as they are now, which is what makes the NAB score measure the live test.
    """
    width = settings.bucket_seconds
    state = volume_state(buckets, width)
    if not buckets:
        return state
    first = buckets[0].start
    rows = session.execute(
        select(
            VolumeStateRow.start,
            VolumeStateRow.value,
            VolumeStateRow.expected,
            VolumeStateRow.spread,
            VolumeStateRow.surprise,
        ).where(
            VolumeStateRow.topic == topic,
            VolumeStateRow.bucket_seconds == width,
            VolumeStateRow.start >= first,
            VolumeStateRow.start <= buckets[-1].start,
        )
    ).all()
    stored = np.full(len(buckets), np.nan)
    for start, value, expected, spread, surprise in rows:
        i = int((start - first).total_seconds()) // width
        if 0 <= i < len(buckets):
            stored[i] = np.nan if value is None else value
            state.expected[i], state.spread[i], state.surprise[i] = expected, spread, surprise
    # The first bucket that is unknown or was recounted since; a NaN never equals anything.
    stale = np.flatnonzero(stored != state.values)
    if len(stale):
        k = int(stale[0])
        state.expected[k:] = state.spread[k:] = state.surprise[k:] = np.nan
    filled = series.fill(state, settings.series_settings)
    if len(filled):
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = [
            {
                "topic": topic,
                "bucket_seconds": width,
                "start": buckets[i].start,
                "value": float(state.values[i]),
                "expected": float(state.expected[i]),
                "spread": float(state.spread[i]),
                "surprise": float(state.surprise[i]),
            }
            for i in filled.tolist()
        ]
        stmt = insert(VolumeStateRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["topic", "bucket_seconds", "start"],
            set_={
                "value": stmt.excluded.value,
                "expected": stmt.excluded.expected,
                "spread": stmt.excluded.spread,
                "surprise": stmt.excluded.surprise,
            },
        )
        for chunk in range(0, len(values), 1000):
            session.execute(stmt, values[chunk : chunk + 1000])
    return state


def evaluate_topic(session: Session, config: Config, topic: str, now: datetime) -> list[int]:
    """Run the detectors over the topic's series at `now`; store and return new signal ids."""
    bucket_seconds = config.bucket_minutes * 60
    # The buckets are `bucket_minutes` wide whatever a preset says.
    settings = replace(config.topic(topic).detection_settings(), bucket_seconds=bucket_seconds)
    buckets, per_platform = load_series(session, topic, now, bucket_seconds)
    if not buckets:
        return []
    window_end = buckets[-1].start + timedelta(seconds=bucket_seconds)
    longest = max((*settings.series_settings.windows_minutes, settings.window_minutes))
    recent = recent_mentions(session, topic, window_end - timedelta(minutes=longest), window_end)
    volume = load_volume_state(session, topic, buckets, settings)
    signals = evaluate(
        topic,
        buckets,
        now,
        settings,
        per_platform=per_platform,
        recent_mentions=recent,
        source_health=source_health(session, topic) or None,
        volume=volume,
        tz=config.timezone,
    )
    return store_signals(session, signals)


def topics_with_data(session: Session, config: Config) -> list[str]:
    """Every configured topic plus any topic that has mentions (imports may bring new ones)."""
    names = set(config.topics)
    names.update(t for (t,) in session.execute(select(BucketRow.topic).distinct()))
    return sorted(names)
