"""The live path works out one new bucket with its own code (Python floats, no arrays per lag
list); these properties hold it to the batch path, number for number, on random series."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from worker.detection import series

WIDTHS = (60, 300, 900, 3600, 7200, 86_400)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, int, series.SeriesSettings, float, int]:
    """(counts, bucket seconds, settings, epoch of the first bucket, phase)."""
    width = draw(st.sampled_from(WIDTHS))
    per_day = max(1, round(86_400 / width))
    days = draw(st.floats(min_value=0.05, max_value=5.0))
    n = max(2, min(1500, int(days * per_day)))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    level = draw(st.sampled_from((0.3, 3.0, 40.0, 900.0)))
    epoch0 = draw(st.integers(min_value=0, max_value=2_000_000_000)) / 1.0
    # Weekends busier or quieter than weekdays, so the weekday/weekend baseline tells.
    weekend = series.weekend(np.arange(n), width, epoch0)
    v = rng.poisson(level * np.where(weekend, draw(st.sampled_from((1.0, 0.1, 8.0))), 1.0))
    v = v.astype(float)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):  # bursts and silences
        at = int(rng.integers(0, n))
        v[at : at + int(rng.integers(1, 20))] = float(rng.integers(0, 20 * level + 10))
    s = replace(
        series.DEFAULT,
        season_days=draw(st.integers(min_value=1, max_value=14)),
        recent_minutes=draw(st.sampled_from((5, 60, 240))),
        trend_minutes=draw(st.sampled_from((60, 360, 1440))),
        windows_minutes=draw(st.sampled_from(((15, 60, 180), (60,), (5, 1440)))),
        min_rise=draw(st.sampled_from((1.0, 1.5))),
        memory_days=draw(
            st.integers(min_value=1, max_value=14)
        ),  # at 0 `reference` and `reference_at` disagree
        memory_rank=draw(st.integers(min_value=1, max_value=3)),
        weekly=draw(st.booleans()),
    )
    return v, width, s, epoch0, series.phase_of(epoch0, width)


@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_one_bucket_is_worked_out_as_in_the_batch_run(
    case: tuple[np.ndarray, int, series.SeriesSettings, float, int],
) -> None:
    v, width, s, epoch0, phase = case
    n = len(v)
    mu = series.expected_at(v, np.arange(n), width, s, epoch0)
    state = series.VolumeState.fresh(v, width, phase, epoch0)
    series.fill(state, s)
    assert state.expected.tobytes() == mu.tobytes()
    per_day = max(1, round(86_400 / width))
    ref = series.reference(state.surprise, per_day, s)
    flips = np.flatnonzero(np.diff(series.weekend(np.arange(n), width, epoch0))) + 1
    for i in sorted({0, 1, n // 3, n // 2, n - 2, n - 1, *flips.tolist()} & set(range(n))):
        one = np.array([i])
        assert series.expected_at(v, one, width, s, epoch0).tobytes() == mu[i : i + 1].tobytes()
        # The batch path for [i, i] sums the windows from the same first bucket as for [i]
        # (from bucket 0 they may differ in the last bits when the floor is not a binary
        # fraction, 0.6 a minute: the batch run and the live one differ there, as before).
        twice = np.array([i, i])
        batch, batch_which = series._surprise_at(v, mu, state.spread[twice], twice, width, s)
        got, w = series._surprise_at(v, mu, state.spread[one], one, width, s)
        assert (got[0], int(w[0])) == (batch[0], int(batch_which[0]))  # 0.0 == -0.0
        assert series.reference_at(state.surprise, i, per_day, s) == ref[i]


@settings(max_examples=25, deadline=None)
@given(case=cases())
def test_filling_bucket_by_bucket_equals_filling_at_once(
    case: tuple[np.ndarray, int, series.SeriesSettings, float, int],
) -> None:
    v, width, s, epoch0, phase = case
    # Not at a floor of 0.6 a bucket: window sums from other first buckets (see above).
    assume(width != 60)
    whole = series.VolumeState.fresh(v, width, phase, epoch0)
    series.fill(whole, s)
    start = len(v) // 2
    state = series.VolumeState.fresh(v[:start], width, phase, epoch0)
    series.fill(state, s)
    for i in range(start, min(len(v), start + 40)):
        nan = np.array([np.nan])
        state = series.VolumeState(
            v[: i + 1],
            np.concatenate((state.expected, nan)),
            np.concatenate((state.spread, nan)),
            np.concatenate((state.surprise, nan)),
            width,
            phase,
            epoch0,
        )
        judged, filled = series.judge(state, s)
        assert filled.tolist() == [i]
        assert state.expected.tobytes() == whole.expected[: i + 1].tobytes()
        assert state.spread.tobytes() == whole.spread[: i + 1].tobytes()
        assert np.array_equal(state.surprise, whole.surprise[: i + 1])  # 0.0 == -0.0
        assert judged.window_minutes in s.windows_minutes
