"""The live volume test is the NAB-measured series detector, judged one bucket at a time.

The pipeline keeps each bucket's expected count, spread and surprise (`volume_state`), so the
newest bucket costs lookups; these tests prove that doing so gives exactly what a batch run over
the whole series gives, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.detection import series, settings_for
from worker.detection.core import DetectionSettings, evaluate
from worker.model import Bucket
from worker.pipeline import load_series, load_volume_state
from worker.storage.models import BucketRow, VolumeStateRow

STEP = 300
PER_DAY = 288
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
#: The bucket-by-bucket test starts on a Saturday, so weekend and weekday baselines both count.
SATURDAY = (T0 - timedelta(days=2)).timestamp()


def counts(days: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    return rng.poisson(20 * (1 + 0.6 * np.sin(2 * np.pi * t / PER_DAY))).astype(float)


def test_judging_bucket_by_bucket_equals_the_batch_run() -> None:
    v = counts(5)
    v[4 * PER_DAY + 30 : 4 * PER_DAY + 42] += 150
    phase = 7  # the series starts 35 minutes into an hour
    expected, surprise = series.surprise(v, STEP, series.DEFAULT, phase, SATURDAY)
    score = surprise / series.reference(surprise, PER_DAY)
    score = np.where(np.arange(len(v)) >= PER_DAY, score / (score + 1), 0.0)
    state = series.VolumeState.fresh(v[: 2 * PER_DAY], STEP, phase, SATURDAY)
    series.fill(state)
    for i in range(2 * PER_DAY, len(v)):
        state = series.VolumeState(
            v[: i + 1],
            np.append(state.expected, np.nan),
            np.append(state.spread, np.nan),
            np.append(state.surprise, np.nan),
            STEP,
            phase,
            SATURDAY,
        )
        judged, filled = series.judge(state)
        assert filled.tolist() == [i]  # only the new bucket was worked out
        assert judged.expected == expected[i]
        assert judged.surprise == surprise[i]
        assert judged.score == score[i]
    top = int(np.argmax(score))
    assert 4 * PER_DAY + 30 <= top <= 4 * PER_DAY + 42 and score[top] > 0.5


def test_the_band_brackets_the_usual_count() -> None:
    v = counts(3)
    judged, _ = series.judge(series.VolumeState.fresh(v, STEP))
    low, high = judged.band()
    assert low <= judged.window_expected <= high
    assert judged.window_observed == v[-judged.window_buckets :].sum()


def add_buckets(sessions: sessionmaker[Session], values: np.ndarray, offset: int = 0) -> None:
    with sessions.begin() as s:
        for i, c in enumerate(values.tolist(), start=offset):
            s.add(
                BucketRow(
                    topic="acme",
                    platform="bluesky",
                    start=T0 + timedelta(seconds=STEP * i),
                    count=int(c),
                    authors=int(c),
                    texts=int(c),
                )
            )


def load(
    sessions: sessionmaker[Session], now: datetime, settings: DetectionSettings
) -> tuple[list[Bucket], series.VolumeState]:
    """What `evaluate_topic` does first: the completed buckets at `now` and their volume state."""
    with sessions.begin() as s:
        buckets, _ = load_series(s, "acme", now, STEP)
        return buckets, load_volume_state(s, "acme", buckets, settings)


def test_the_pipeline_stores_the_state_and_then_works_out_only_the_new_bucket(
    sessions: sessionmaker[Session],
) -> None:
    v = counts(3)
    add_buckets(sessions, v)
    settings = settings_for("balanced")
    now = T0 + timedelta(seconds=STEP * len(v))
    buckets, first = load(sessions, now, settings)
    assert len(buckets) == len(v)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(VolumeStateRow)) == len(v)
    expected, surprise = series.surprise(v, STEP, settings.series_settings, 0, T0.timestamp())
    assert np.array_equal(first.expected, expected) and np.allclose(first.surprise, surprise)

    # One more bucket, a burst: only it is worked out, and it matches the batch run.
    burst = np.array([160.0])
    add_buckets(sessions, burst, offset=len(v))
    buckets, state = load(sessions, now + timedelta(seconds=STEP), settings)
    signals = evaluate("acme", buckets, now + timedelta(seconds=STEP), settings, volume=state)
    whole = np.append(v, burst)
    _, surprise = series.surprise(whole, STEP, settings.series_settings, 0, T0.timestamp())
    assert np.allclose(state.surprise, surprise)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(VolumeStateRow)) == len(whole)
    (spike,) = [sig for sig in signals if sig.kind == "volume_spike"]
    assert spike.evidence.details["surprise"] > spike.evidence.details["reference_surprise"]
    assert "in the last 15 minutes" in spike.explanation


def test_without_stored_state_evaluate_works_it_out_the_same() -> None:
    v = counts(3)
    v[-3:] += 200
    buckets = [
        Bucket(T0 + timedelta(seconds=STEP * i), count=int(c), authors=int(c), texts=int(c))
        for i, c in enumerate(v.tolist())
    ]
    settings = settings_for("balanced")
    now = buckets[-1].start + timedelta(seconds=STEP)
    alone = evaluate("acme", buckets, now, settings)
    state = series.VolumeState.fresh(v, STEP, series.phase_of(T0.timestamp(), STEP), T0.timestamp())
    series.fill(state, settings.series_settings)
    given = evaluate("acme", buckets, now, settings, volume=state)
    assert [s.explanation for s in alone] == [s.explanation for s in given]
    assert any(s.kind == "volume_spike" for s in alone)


def test_a_late_recount_works_the_state_out_again_from_that_bucket_on(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late mentions land in a bucket that was already judged: the stored state must follow."""
    v = counts(4)
    add_buckets(sessions, v)
    settings = settings_for("balanced")
    now = T0 + timedelta(seconds=STEP * len(v))
    load(sessions, now, settings)

    filled: list[list[int]] = []
    fill = series.fill

    def spy(state: series.VolumeState, s: series.SeriesSettings = series.DEFAULT) -> np.ndarray:
        out = fill(state, s)
        filled.append(out.tolist())
        return out

    monkeypatch.setattr(series, "fill", spy)

    # Nothing changed: nothing is worked out again.
    load(sessions, now, settings)
    assert filled == [[]]

    # A story broke 3 hours ago, but its mentions arrived late: bucket `late` is recounted.
    late = len(v) - 36
    with sessions.begin() as s:
        row = s.scalars(
            select(BucketRow).where(BucketRow.start == T0 + timedelta(seconds=STEP * late))
        ).one()
        row.authors += 400
    v[late] += 400
    _, state = load(sessions, now, settings)
    assert filled[-1] == list(range(late, len(v)))
    expected, surprise = series.surprise(v, STEP, settings.series_settings, 0, T0.timestamp())
    assert np.array_equal(state.expected, expected)
    assert np.array_equal(state.surprise, surprise)
    assert state.surprise[late] > 50  # what the stale row said was an ordinary bucket

    # What was stored is the new state, and the next tick works out nothing again.
    with sessions() as s:
        rows = s.execute(
            select(VolumeStateRow.value, VolumeStateRow.surprise).order_by(VolumeStateRow.start)
        ).all()
    assert [r.value for r in rows] == v.tolist()
    assert np.array_equal([r.surprise for r in rows], surprise)
    load(sessions, now, settings)
    assert filled[-1] == []


def test_rows_stored_before_the_value_column_are_worked_out_again_once(
    sessions: sessionmaker[Session],
) -> None:
    v = counts(2)
    add_buckets(sessions, v)
    settings = settings_for("balanced")
    now = T0 + timedelta(seconds=STEP * len(v))
    load(sessions, now, settings)
    with sessions.begin() as s:  # as migration 0004 leaves rows written by 0003's code
        s.execute(update(VolumeStateRow).values(value=None, surprise=-1.0))
    _, state = load(sessions, now, settings)
    _, surprise = series.surprise(v, STEP, settings.series_settings, 0, T0.timestamp())
    assert np.array_equal(state.surprise, surprise)
    with sessions() as s:
        assert s.scalar(select(func.count()).where(VolumeStateRow.value.is_(None))) == 0
