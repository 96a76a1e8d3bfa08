"""A tick costs what is new: the kept series equals a fresh load, and reads only what changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from worker.config import default_config
from worker.detection import series
from worker.detection.core import settings_for, volume_state
from worker.detection.window import Columns
from worker.ingest import ingest_page
from worker.model import Mention
from worker.pipeline import evaluate_topic, load_series, recent_mentions
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.topic_series import Loaded, SeriesCache

T0 = datetime(2026, 5, 4, tzinfo=UTC)
STEP = 300


def _mention(k: int, at: datetime, platform: str = "bluesky", text: str = "ok") -> Mention:
    return Mention(
        platform=platform, id=f"m{k}", created_at=at, text=text, author=f"a{k % 37}", topic="acme"
    )


def _settings():  # type: ignore[no-untyped-def]
    return replace(settings_for("balanced"), bucket_seconds=STEP)


def _same_state(a: series.VolumeState, b: series.VolumeState) -> bool:
    return all(
        np.array_equal(x, y, equal_nan=True)
        for x, y in (
            (a.values, b.values),
            (a.expected, b.expected),
            (a.spread, b.spread),
            (a.surprise, b.surprise),
        )
    )


#: Each step: how many minutes the clock moves, then mentions as (minutes before the new now,
#: platform) — some land in the current bucket, some hours late, some in buckets already judged.
steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=180),
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=600), st.sampled_from(["x", "bsky", "rss"])
            ),
            max_size=12,
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps)
def test_kept_series_equals_a_fresh_load_after_late_mentions(tmp_path_factory, plan) -> None:  # type: ignore[no-untyped-def]
    """After every tick, with mentions arriving late and out of order, the cached series, its
    per-platform split, the volume state and the recent mentions equal what a fresh load and a
    batch run give."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ts') / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    sessions: sessionmaker[Session] = make_sessionmaker(engine)
    # Longer than the plan can span, so the window never slides: what a batch run over the
    # same window gives is then exactly comparable.
    cache = SeriesCache(timedelta(days=4))
    k = 0
    now = T0
    try:
        # A day of history first, so the volume state has something to work out.
        with sessions.begin() as s:
            history = [_mention(i, T0 - timedelta(minutes=7 * i)) for i in range(1, 200)]
            ingest_page(s, history, T0, bucket_seconds=STEP, topic="acme")
        for minutes, late in plan:
            now += timedelta(minutes=minutes)
            with sessions.begin() as s:
                batch = []
                for back, platform in late:
                    k += 1
                    batch.append(_mention(1000 + k, now - timedelta(minutes=back), platform))
                ingest_page(s, batch, now, bucket_seconds=STEP, topic="acme")
            end = now - timedelta(seconds=now.timestamp() % STEP)
            since = end - timedelta(hours=3)
            with sessions.begin() as s:
                got = cache.get(s, "acme", now, _settings())
                got_recent = cache.recent(s, "acme", since, end, got.version, STEP)
            with sessions() as s:
                buckets, per, state = _fresh_window(s, now, cache.history)
                assert got_recent == recent_mentions(s, "acme", since, end)
            assert got.buckets == buckets
            assert got.per_platform == per
            assert got.volume is not None
            assert _same_state(got.volume, state)
            _assert_columns(got)
    finally:
        engine.dispose()


def _assert_columns(got: Loaded) -> None:
    """The kept sums (`window.Columns`) equal the ones built afresh from the kept series."""
    assert got.columns is not None
    assert np.array_equal(got.columns.data, Columns.of(got.buckets).data)
    assert sorted(got.platform_columns) == sorted(got.per_platform)
    for platform, plat in got.per_platform.items():
        assert np.array_equal(got.platform_columns[platform].data, Columns.of(plat).data)


def _fresh_window(session: Session, now: datetime, history: timedelta):  # type: ignore[no-untyped-def]
    buckets, per = load_series(session, "acme", now, STEP, history=history)
    state = volume_state(buckets, STEP)
    series.fill(state, _settings().series_settings)
    return buckets, per, state


def test_a_tick_reads_only_what_changed(db_url: str) -> None:
    """Sixty days of history: the first evaluation reads at most the 28 days the detectors use,
    and the next ticks read only the bucket rows written since (counted, not timed)."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    config = default_config(["acme"])
    cache = SeriesCache()
    try:
        with sessions.begin() as s:
            old = [_mention(i, T0 - timedelta(minutes=23 * i)) for i in range(1, 3800)]
            ingest_page(s, old, T0, bucket_seconds=STEP, topic="acme")
        now = T0 + timedelta(minutes=1)
        with sessions.begin() as s:
            first = cache.get(s, "acme", now, _settings())
        history_buckets = 28 * 86_400 // STEP
        assert len(first.buckets) == history_buckets
        assert first.rows_read <= history_buckets + 1  # not the 60 days that are stored
        reads = []
        for tick in range(1, 13):
            now = T0 + timedelta(minutes=5 * tick + 1)
            with sessions.begin() as s:
                ingest_page(
                    s,
                    [
                        _mention(9000 + tick, now - timedelta(minutes=2)),
                        _mention(9500 + tick, now - timedelta(hours=2)),
                    ],
                    now,
                    bucket_seconds=STEP,
                    topic="acme",
                )
            with sessions.begin() as s:
                loaded = cache.get(s, "acme", now, _settings())
                reads.append(loaded.rows_read)
                _assert_columns(loaded)  # the window slid by one bucket and a late one changed
                evaluate_topic(s, config, "acme", now, cache=cache)
        # Two buckets written per tick (the new one and the late one): at most two rows read.
        assert max(reads) <= 2, reads
    finally:
        engine.dispose()
