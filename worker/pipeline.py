"""The listening side's database steps, shared by the Celery tasks and the offline replay.

- `sync_sources`, `claim_due_sources`, `record_poll_failure`, `source_health`: the polling
  schedule and source health, kept in `worker.sources.schedule` and re-exported here.
- `load_series` + `evaluate_topic`: bucket series → detectors → stored signals (new ids returned,
  for the caller to hand to the alerts side by task name after commit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, func, select, update
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
from worker.storage.dialect import insert_for, prebuilt, upsert_many, upsert_then_update
from worker.storage.models import (
    BucketRow,
    MentionRow,
    SignalRow,
    Source,
    TopicState,
    VolumeStateRow,
)
from worker.storage.queries import MENTION_COLUMNS, mention_from_row
from worker.topic_series import SeriesCache

__all__ = [
    "claim_due_sources",
    "evaluate_topic",
    "evaluate_topics",
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
    rows = session.execute(
        select(BucketRow.platform, BucketRow.start, *[getattr(BucketRow, f) for f in fields]).where(
            BucketRow.topic == topic, BucketRow.start >= start, BucketRow.start < end
        )
    ).all()
    total = [[0] * len(fields) for _ in range(n)]
    per: dict[str, list[list[int]]] = {}
    for platform, at, *values in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        i = int((at - start).total_seconds()) // bucket_seconds
        if not 0 <= i < n:
            continue
        plat = per.get(platform)
        if plat is None:
            plat = per[platform] = [[0] * len(fields) for _ in range(n)]
        for j, v in enumerate(values):
            total[i][j] += v
            plat[i][j] += v

    def buckets(rows_: list[list[int]]) -> list[Bucket]:
        return [
            Bucket(start + timedelta(seconds=i * bucket_seconds), *row)
            for i, row in enumerate(rows_)
        ]

    return buckets(total), {p: buckets(v) for p, v in per.items()}


_M = MentionRow.__table__.c
# Built once: evaluation runs at every tick for every active topic.
_RECENT = (
    select(*MENTION_COLUMNS)
    .where(
        _M.topic == bindparam("topic"),
        _M.created_at >= bindparam("since"),
        _M.created_at < bindparam("until"),
    )
    # Ties broken the way `SeriesCache.recent` breaks them, so both give the same list.
    .order_by(_M.created_at.desc(), _M.platform.desc(), _M.external_id.desc())
    .limit(bindparam("limit"))
)
_T = TopicState.__table__.c
_MARK = (
    update(cast(Table, TopicState.__table__))
    .where(_T.topic == bindparam("t"))
    .values(
        evaluated_version=bindparam("v"),
        evaluated_through=bindparam("through"),
        evaluated_at=bindparam("at"),
    )
)
_S = Source.__table__.c
_VERSIONS = (
    select(_T.topic, _T.version, _S.platform, _S.healthy)
    .select_from(
        TopicState.__table__.outerjoin(
            Source.__table__, (_S.topic == _T.topic) & _S.enabled.is_(True)
        )
    )
    .where(_T.topic.in_(bindparam("topics", expanding=True)))
)
#: What `due_topics` reads (also through `worker.storage.dialect.peek`, outside a transaction).
STATES = _STATES = select(
    _T.topic,
    _T.version,
    _T.evaluated_version,
    _T.evaluated_through,
    _T.evaluated_at,
    _T.last_mention_at,
)


def recent_mentions(
    session: Session, topic: str, since: datetime, until: datetime, limit: int = 2000
) -> list[Mention]:
    """The topic's newest mentions in [since, until), newest first, read column by column."""
    rows = session.execute(
        _RECENT, {"topic": topic, "since": since, "until": until, "limit": limit}
    ).all()
    return [mention_from_row(r) for r in rows]


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
    ids = []
    for s in signals:
        stmt = (
            insert_for(session)(SignalRow)
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
    session: Session,
    topic: str,
    buckets: Sequence[Bucket],
    settings: DetectionSettings,
    writes: list[dict[str, Any]] | None = None,
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
        store_volume_state(session, topic, buckets, state, filled, writes)
    return state


@prebuilt
def _upsert_volume_state(insert: Any) -> Any:
    stmt = insert(VolumeStateRow.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["topic", "bucket_seconds", "start"],
        set_={
            "value": stmt.excluded.value,
            "expected": stmt.excluded.expected,
            "spread": stmt.excluded.spread,
            "surprise": stmt.excluded.surprise,
        },
    )


def store_volume_state(
    session: Session,
    topic: str,
    buckets: Sequence[Bucket],
    state: VolumeState,
    filled: np.ndarray,
    writes: list[dict[str, Any]] | None = None,
) -> None:
    """Write the worked-out state of the buckets at indices `filled` (UPSERT, in chunks); with
    `writes`, add the rows to it instead (`write_volume_state` writes them later)."""
    values = [
        {
            "topic": topic,
            "bucket_seconds": state.bucket_seconds,
            "start": buckets[i].start,
            "value": float(state.values[i]),
            "expected": float(state.expected[i]),
            "spread": float(state.spread[i]),
            "surprise": float(state.surprise[i]),
        }
        for i in filled.tolist()
    ]
    if writes is not None:
        writes.extend(values)
    else:
        write_volume_state(session, values)


def write_volume_state(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """UPSERT volume-state rows (of one topic or many): one statement on PostgreSQL, executemany
    in chunks on SQLite (and for a value JSON cannot carry: NaN, ±inf)."""
    finite = all(
        math.isfinite(v[k]) for v in values for k in ("value", "expected", "spread", "surprise")
    )
    for chunk in range(0, len(values), 1000):
        if not finite:
            session.execute(_upsert_volume_state(session), values[chunk : chunk + 1000])
            continue
        upsert_many(
            session,
            _VOLUME_TABLE,
            values[chunk : chunk + 1000],
            unique=_VOLUME_KEY,
            update=_VOLUME_SET,
            fallback=_upsert_volume_state(session),
        )


_VOLUME_TABLE = cast(Table, VolumeStateRow.__table__)
_VOLUME_KEY = ("topic", "bucket_seconds", "start")
_VOLUME_SET = ("value", "expected", "spread", "surprise")
_TOPIC_STATE = cast(Table, TopicState.__table__)


#: The series of every topic this process evaluated, kept between ticks (`worker.topic_series`).
CACHE = SeriesCache(HISTORY)


def evaluate_topic(
    session: Session,
    config: Config,
    topic: str,
    now: datetime,
    *,
    cache: SeriesCache | None = CACHE,
) -> list[int]:
    """Run the detectors over the topic's series at `now`; store and return new signal ids.

    With a cache (the default) only the bucket rows written since this process last looked are
    read; `cache=None` loads everything afresh (the reference the tests compare with).
    The topic's `topic_state` row records what was evaluated (`topics_due` reads it).
    """
    return evaluate_topics(session, config, [topic], now, cache=cache)[topic]


def evaluate_topics(
    session: Session,
    config: Config,
    topics: Sequence[str],
    now: datetime,
    *,
    cache: SeriesCache | None = CACHE,
    seconds: dict[str, float] | None = None,
) -> dict[str, list[int]]:
    """`evaluate_topic` for each topic in turn, in the caller's one transaction; the new signal
    ids of each, in the order given (a topic given twice is evaluated once).

    What every evaluation asks or writes is asked or written once for all of them: their data
    versions and source health are read with one query each before, and the volume-state rows
    and the "evaluated" marks written with one statement each after (nothing in between reads
    them). `seconds`, if given, receives each topic's evaluation time (for the heartbeat).
    """
    names = list(dict.fromkeys(topics))
    # One query: each topic's data version and the health of its enabled sources by platform
    # (`source_health`'s answer: is at least one of the platform's sources healthy?).
    versions: dict[str, int] = {}
    health: dict[str, dict[str, bool]] = {}
    for topic, version, platform, healthy in session.execute(_VERSIONS, {"topics": names}):
        versions[topic] = int(version)
        if platform is not None:
            of = health.setdefault(topic, {})
            of[platform] = of.get(platform, False) or bool(healthy)
    if cache is not None and len(names) > 1:
        # What each topic's evaluation would read with two statements of its own (the bucket
        # rows and mentions new since it last looked), read for all of them at once.
        width = config.bucket_minutes * 60
        longest = 0
        for name in names:
            try:
                s = _settings(config, name, width)
            except ValueError:  # raised again by that topic's evaluation, in its turn
                continue
            longest = max(longest, s.longest_window_minutes)
        cache.prefetch(
            session, names, versions, width, bucket_start(now, width) - timedelta(minutes=longest)
        )
    volume_rows: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    found: dict[str, list[int]] = {}
    try:
        for topic in names:
            started = time.perf_counter()
            found[topic] = _evaluate(
                session, config, topic, now, cache, versions, health.get(topic), volume_rows, marks
            )
            if seconds is not None:
                seconds[topic] = time.perf_counter() - started
    finally:
        if cache is not None:
            cache.forget_prefetched()
    # The volume state, then the marks: one statement on PostgreSQL, one executemany each on
    # SQLite (and the volume state in chunks when it is a whole history, after an import).
    head, rest = volume_rows[:1000], volume_rows[1000:]
    upsert_then_update(
        session,
        (_VOLUME_TABLE, head, _VOLUME_KEY, _VOLUME_SET, _upsert_volume_state(session)),
        (
            _TOPIC_STATE,
            [
                {
                    "topic": m["t"],
                    "evaluated_version": m["v"],
                    "evaluated_through": m["through"],
                    "evaluated_at": m["at"],
                }
                for m in marks
            ],
            "topic",
            _MARK,
            marks,
        ),
    )
    if rest:
        write_volume_state(session, rest)
    return found


def _evaluate(
    session: Session,
    config: Config,
    topic: str,
    now: datetime,
    cache: SeriesCache | None,
    versions: dict[str, int] | None,
    health: dict[str, bool] | None,
    volume_rows: list[dict[str, Any]],
    marks: list[dict[str, Any]],
) -> list[int]:
    bucket_seconds = config.bucket_minutes * 60
    settings = _settings(config, topic, bucket_seconds)
    if cache is None:
        version = session.scalar(select(TopicState.version).where(TopicState.topic == topic))
        buckets, per_platform = load_series(session, topic, now, bucket_seconds)
        volume = (
            load_volume_state(session, topic, buckets, settings, volume_rows) if buckets else None
        )
        columns, platform_columns = None, None
    else:
        loaded = cache.get(session, topic, now, settings, versions=versions, writes=volume_rows)
        buckets, per_platform, volume = loaded.buckets, loaded.per_platform, loaded.volume
        version = loaded.version
        columns, platform_columns = loaded.columns, loaded.platform_columns
    if not buckets:
        return []
    window_end = buckets[-1].start + timedelta(seconds=bucket_seconds)
    marks.append({"t": topic, "v": version or 0, "through": window_end, "at": now})
    since = window_end - timedelta(minutes=settings.longest_window_minutes)
    if cache is None:
        recent = recent_mentions(session, topic, since, window_end)
    else:
        recent = cache.recent(session, topic, since, window_end, version or 0, bucket_seconds)
    signals = evaluate(
        topic,
        buckets,
        now,
        settings,
        per_platform=per_platform,
        recent_mentions=recent,
        source_health=health or None,
        volume=volume,
        tz=config.timezone,
        columns=columns,
        platform_columns=platform_columns,
    )
    return store_signals(session, signals)


def _settings(config: Config, topic: str, bucket_seconds: int) -> DetectionSettings:
    """The topic's detection settings; the buckets are `bucket_minutes` wide whatever a preset
    says."""
    settings = config.topic(topic).detection_settings()
    if settings.bucket_seconds != bucket_seconds:
        settings = replace(settings, bucket_seconds=bucket_seconds)
    return settings


def mark_evaluated(
    session: Session, topic: str, version: int, through: datetime, now: datetime
) -> None:
    session.execute(_MARK, {"t": topic, "v": version, "through": through, "at": now})


def topics_due(session: Session, config: Config, now: datetime) -> list[str]:
    """The topics worth evaluating at `now` (see `due_topics`), read in `session`."""
    return due_topics(session.execute(_STATES).all(), config, now)


def due_topics(states: Iterable[Sequence[Any]], config: Config, now: datetime) -> list[str]:
    """The topics worth evaluating at `now`, from the `topic_state` rows (`_STATES` columns):
    those whose data changed since their last evaluation, and those with a newly completed
    bucket that can still raise something.

    A topic with no mention in the detectors' longest window (3 hours) can raise nothing but
    `silence`; it is looked at again once per `window_minutes`, so a platform that falls silent
    is still noticed, while a quiet topic costs nothing on most ticks.
    """
    width = config.bucket_minutes * 60
    end = bucket_start(now, width)
    due = []
    for topic, version, evaluated_version, through, evaluated_at, last_mention_at in states:
        if version != evaluated_version or through is None:
            due.append(topic)
            continue
        if _utc(through) >= end:
            continue  # no bucket completed since
        settings = config.topic(topic).detection_settings()
        active = last_mention_at is not None and _utc(last_mention_at) >= end - timedelta(
            minutes=settings.longest_window_minutes
        )
        stale = evaluated_at is None or _utc(evaluated_at) <= now - timedelta(
            minutes=settings.window_minutes
        )
        if active or stale:
            due.append(topic)
    return sorted(due)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def topics_with_data(session: Session, config: Config) -> list[str]:
    """Every configured topic plus any topic that has mentions (imports may bring new ones)."""
    names = set(config.topics)
    names.update(t for (t,) in session.execute(select(BucketRow.topic).distinct()))
    return sorted(names)
