"""The volume detector over a count series, and `tocsin detect-series`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.detection.cli import detect_rows
from worker.detection.series import MAX_SURPRISE, detect, reference, reference_at

STEP = 300
PER_DAY = 288


def daily_pattern(days: int, base: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    level = base * (1.0 + 0.6 * np.sin(2 * np.pi * t / PER_DAY))
    return rng.poisson(level).astype(float)


@settings(max_examples=40, deadline=None)
@given(
    level=st.integers(min_value=0, max_value=5000),
    days=st.integers(min_value=1, max_value=6),
)
def test_a_constant_series_never_alerts(level: int, days: int) -> None:
    result = detect(np.full(days * PER_DAY, float(level)), STEP)
    assert result.alert.sum() == 0
    assert np.all((result.score >= 0) & (result.score <= 1))


@settings(max_examples=30, deadline=None)
@given(
    start=st.floats(min_value=0, max_value=500),
    growth_per_day=st.floats(min_value=-0.3, max_value=0.3),
)
def test_a_slowly_trending_series_never_alerts(start: float, growth_per_day: float) -> None:
    t = np.arange(5 * PER_DAY)
    series = np.round(np.fmax(0.0, start * (1 + growth_per_day) ** (t / PER_DAY)))
    assert detect(series, STEP).alert.sum() == 0


def test_a_clear_surge_alerts_once_at_its_start() -> None:
    series = daily_pattern(8, 40)
    onset = 6 * PER_DAY + 100
    series[onset : onset + 36] += 400  # three hours of a story
    result = detect(series, STEP)
    (alerts,) = np.nonzero(result.alert)
    assert len(alerts) == 1
    assert onset <= alerts[0] <= onset + 3
    assert result.expected[onset] < 100  # judged against the usual level, not the surge


def test_one_freak_spike_does_not_mask_the_next_real_event() -> None:
    # A ten-minute freak spike far bigger than anything else, then, two days later, a smaller
    # but sustained story. The reference is the *second* most surprising day of the last two
    # weeks, so the freak spike alone does not raise the bar for the story.
    series = daily_pattern(9, 40, seed=3)
    spike = 5 * PER_DAY + 40
    series[spike : spike + 2] += 3000
    story = 7 * PER_DAY + 150
    series[story : story + 18] += 150  # an hour and a half at about three times the usual
    result = detect(series, STEP)
    (alerts,) = np.nonzero(result.alert)
    assert [a for a in alerts if a >= story] and story <= alerts[-1] <= story + 18
    assert spike <= alerts[0] <= spike + 1


@pytest.mark.xfail(
    strict=True,
    reason="known (docs/benchmarks.md, issue 15, 2026-12-02, reference variants): after two "
    "cap-level days the reference sits at the surprise cap for two weeks; every variant that "
    "lowers it either loses on NAB half A or pages a topic that bursts every day, so none is "
    "shipped",
)
def test_two_cap_level_days_do_not_blind_a_busy_topic_to_the_next_story() -> None:
    # Issue 15: a busy topic (200 posts per five minutes on average) has two huge days in a
    # week, each a tail probability at the surprise cap. Four days later a moderate story (five
    # times the usual for two hours) is far beyond anything ordinary, but with the reference at
    # the cap it scores 0.40 and does not page.
    series = daily_pattern(12, 200, seed=9)
    for day in (3, 5):
        series[day * PER_DAY + 120 : day * PER_DAY + 144] += 40 * 200
    story = 9 * PER_DAY + 150
    series[story : story + 24] += 4 * 200
    result = detect(series, STEP)
    ref = reference(result.surprise, PER_DAY)
    for i in (story - 1, story, story + 10):  # the live path reads the same reference
        assert reference_at(result.surprise, i, PER_DAY) == ref[i]
    assert result.surprise[story : story + 24].max() < MAX_SURPRISE  # moderate, not cap-level
    (alerts,) = np.nonzero(result.alert)
    assert [a for a in alerts if story <= a <= story + 24]


def test_a_topic_that_bursts_every_day_stops_paging_on_its_bursts() -> None:
    series = daily_pattern(16, 40, seed=5)
    rng = np.random.default_rng(11)
    for day in range(16):
        at = day * PER_DAY + int(rng.integers(0, PER_DAY - 12))
        series[at : at + 12] += 200  # the same hour-long burst, every day, at any time
    (alerts,) = np.nonzero(detect(series, STEP).alert)
    assert len(alerts) <= 3  # learned within the first days
    assert all(a < 5 * PER_DAY for a in alerts)


def test_three_posts_on_a_silent_topic_do_not_page() -> None:
    series = np.zeros(4 * PER_DAY)
    series[3 * PER_DAY + 50] = 3
    assert detect(series, STEP).alert.sum() == 0


def test_a_daily_peak_is_not_a_spike() -> None:
    assert detect(daily_pattern(10, 60, seed=7), STEP).alert.sum() == 0


def test_a_story_on_a_quiet_topic_pages_alike_at_any_bucket_width() -> None:
    # About 290 authors a day, then some 60 more in a quarter of an hour. The floor of the
    # expected count and the detector's durations are in time, not buckets: with one-minute
    # buckets the same story must page too (a floor of 3 per bucket used to hide it), and
    # sooner, while neither width pages on the quiet days before it.
    rng = np.random.default_rng(3)
    per_minute = rng.poisson(0.2, 15 * 1440).astype(float)
    story = len(per_minute) - 15
    per_minute[story:] += rng.poisson(4, 15)
    for width, values in ((60, per_minute), (300, per_minute.reshape(-1, 5).sum(axis=1))):
        (alerts,) = np.nonzero(detect(values, width).alert)
        minutes = [int(a) * width // 60 for a in alerts]
        assert len(minutes) == 1 and story <= minutes[0] < story + 15, (width, minutes)
    assert detect(per_minute, 60).expected[-1] == 0.6  # 36 an hour, spread over the minutes


@settings(max_examples=15, deadline=None)
@given(
    width=st.sampled_from([60, 300, 900, 3600]),
    rate_per_hour=st.floats(min_value=0, max_value=60),
)
def test_a_quiet_poisson_topic_does_not_page_at_any_bucket_width(
    width: int, rate_per_hour: float
) -> None:
    rng = np.random.default_rng(int(rate_per_hour * 1000) + width)
    values = rng.poisson(rate_per_hour * width / 3600, 10 * 86400 // width).astype(float)
    assert detect(values, width).alert.sum() == 0


def write_series(path: Path, values: list[float], bad: str | None = None) -> Path:
    t0 = datetime(2015, 2, 26, 21, 42, 53)
    lines = ["timestamp,value"]
    for i, v in enumerate(values):
        lines.append(f"{t0 + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{v:g}")
    if bad is not None:
        lines.insert(5, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "detect-series", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_writes_scores_and_alerts(tmp_path: Path) -> None:
    series = daily_pattern(4, 30)
    series[3 * PER_DAY + 10 : 3 * PER_DAY + 30] += 500
    src = write_series(tmp_path / "in.csv", list(series))
    out = tmp_path / "out.csv"
    done = run_cli(str(src), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,alert"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == len(series)
    assert rows[0][0] == "2015-02-26 21:42:53"
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)
    flagged = [i for i, r in enumerate(rows) if r[3] == "1"]
    assert len(flagged) == 1 and 3 * PER_DAY + 10 <= flagged[0] <= 3 * PER_DAY + 13


def test_cli_names_the_bad_line_and_writes_nothing(tmp_path: Path) -> None:
    src = write_series(tmp_path / "in.csv", [1.0] * 20, bad="2015-02-26 22:00:00,lots")
    out = tmp_path / "out.csv"
    done = run_cli(str(src), "--out", str(out))
    assert done.returncode == 2
    assert f"{src}:6: value 'lots' is not a number" in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [src]
    missing = run_cli(str(tmp_path / "nope.csv"), "--out", str(out))
    assert missing.returncode == 2 and "file not found" in missing.stderr


# A Monday, 00:00 UTC: day d of a series starting here is a weekend day when d % 7 is 5 or 6.
MONDAY = datetime(2026, 3, 2, tzinfo=UTC).timestamp()


def weekday_topic(days: int, seed: int = 4) -> np.ndarray:
    """Busy on weekdays (60 a bucket), quiet at weekends (6 a bucket)."""
    rng = np.random.default_rng(seed)
    day = np.arange(days * PER_DAY) // PER_DAY
    return rng.poisson(np.where(day % 7 >= 5, 6.0, 60.0)).astype(float)


def test_a_saturday_is_compared_with_weekends_not_with_weekdays() -> None:
    from dataclasses import replace

    from worker.detection.series import DEFAULT

    series = weekday_topic(20)
    saturday = 19 * PER_DAY + 120  # day 19 is the Saturday of the third week
    assert (saturday // PER_DAY) % 7 == 5
    series[saturday : saturday + 36] = np.random.default_rng(9).poisson(40.0, 36)
    weekly = detect(series, STEP, DEFAULT, epoch0=MONDAY)
    # Six or seven times a Saturday's usual for three hours: a story, although it is less than
    # a weekday's ordinary level, against which it would be judged without the weekly split.
    assert np.flatnonzero(weekly.alert[saturday - 1 :])[0] <= 12
    assert weekly.expected[saturday] < 10
    flat = detect(series, STEP, replace(DEFAULT, weekly=False), epoch0=MONDAY)
    assert not flat.alert[saturday - 1 :].any()
    # The ordinary weekend after weekdays pages neither way.
    assert not weekly.alert[: saturday - 1][3 * PER_DAY :].any()


def test_a_busy_topic_does_not_page_on_a_small_rise() -> None:
    from dataclasses import replace

    from worker.detection.series import DEFAULT

    series = np.random.default_rng(8).poisson(2000.0, 10 * PER_DAY).astype(float)
    onset = 8 * PER_DAY + 100
    series[onset : onset + 36] *= 1.3  # 30 % more for three hours: improbable, not news
    assert not detect(series, STEP).alert[onset:].any()
    assert detect(series, STEP, replace(DEFAULT, min_rise=1.0)).alert[onset:].any()


def test_cli_judges_a_measurement_series_in_units_of_its_median(tmp_path: Path) -> None:
    # Prices around 0.1 (fractional: not counts), tripling for two hours on day 4.
    rng = np.random.default_rng(3)
    series = 0.1 * (1 + 0.05 * rng.standard_normal(5 * PER_DAY))
    series[4 * PER_DAY + 50 : 4 * PER_DAY + 74] *= 3
    src = write_series(tmp_path / "in.csv", [round(float(v), 5) for v in series])
    out = tmp_path / "out.csv"
    done = run_cli(str(src), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    flagged = [i for i, r in enumerate(rows) if r[3] == "1"]
    assert len(flagged) == 1 and 4 * PER_DAY + 50 <= flagged[0] <= 4 * PER_DAY + 53
    assert rows[0][1] == f"{round(float(series[0]), 5):g}"  # written as read
    # As counts (the old reading) every value is under the count floor: nothing could page.
    assert not detect(np.array([float(r[1]) for r in rows]), STEP).alert.any()


def test_rows_that_are_not_evenly_spaced_are_judged_on_their_time_grid() -> None:
    # A sensor that reports every 5 minutes by day and every 30 minutes by night, with a whole
    # day missing, tripling for two hours on day 10. Read row by row, "a day back" and "the
    # last hour" would be counted in rows, not in time: the surge was missed and quiet days
    # paged. On the time grid the surge pages, within its two hours.
    for seed in range(4):
        rng = np.random.default_rng(seed)
        t = np.arange(10 * PER_DAY)
        values = rng.poisson(40 * (1.0 + 0.6 * np.sin(2 * np.pi * t / PER_DAY))).astype(float)
        surge = 9 * PER_DAY + 14 * 12
        values[surge : surge + 24] *= 3
        hour = (t % PER_DAY) // 12
        keep = ((hour >= 8) & (hour < 20)) | (t % 6 == 0)
        keep &= (t < 5 * PER_DAY) | (t >= 6 * PER_DAY)
        rows = np.flatnonzero(keep)
        _, alert = detect_rows(values[rows], rows * float(STEP), STEP)
        flagged = rows[np.flatnonzero(alert)]
        assert len(flagged) <= 2 and any(surge <= f < surge + 24 for f in flagged), (seed, flagged)
    # Evenly spaced rows are their own grid: exactly what `detect` gives.
    series = daily_pattern(4, 30)
    series[3 * PER_DAY + 10 : 3 * PER_DAY + 30] += 500
    offsets = np.arange(len(series)) * float(STEP)
    score, alert = detect_rows(series, offsets, STEP)
    plain = detect(series, STEP)
    assert np.array_equal(score, plain.score) and np.array_equal(alert, plain.alert)


@pytest.mark.xfail(
    strict=True,
    reason="known (docs/benchmarks.md, issue 15, 2026-12-02): a sustained shift pages again at "
    "the next daily rise, about 15 hours later; the level adaptation that fixes it cost a "
    "window on NAB half A at a neighbouring setting, so it is not shipped",
)
def test_a_sustained_shift_pages_once_then_becomes_the_usual_level() -> None:
    # A topic that becomes news and stays there: from day 8 on, three times its usual level
    # for five days. It should page when the shift starts and, once the new level is the usual
    # one, not page again on the next days' ordinary daily peaks. Today it pages twice.
    days, shift = 13, 8 * PER_DAY + 100
    rng = np.random.default_rng(7)
    t = np.arange(days * PER_DAY)
    level = 40 * (1.0 + 0.6 * np.sin(2 * np.pi * t / PER_DAY))
    level[shift:] *= 3
    series = rng.poisson(level).astype(float)
    (alerts,) = np.nonzero(detect(series, STEP).alert)
    after = [a for a in alerts if a >= shift]
    assert len(after) == 1
    assert shift <= after[0] <= shift + 12  # within the hour of the shift


@settings(max_examples=300, deadline=None)
@given(
    r=st.floats(0.5, 5_000, allow_nan=False),
    expected=st.floats(0, 100_000, allow_nan=False),
    coverage=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]),
)
def test_the_band_quantiles_are_scipy_stats_own(r: float, expected: float, coverage: float) -> None:
    """`series.nbinom_ppf` (no `scipy.stats` import) gives what `scipy.stats.nbinom.ppf` gives."""
    from scipy.stats import nbinom

    from worker.detection.series import nbinom_ppf

    q = np.array([(1 - coverage) / 2, (1 + coverage) / 2])
    p = r / (r + expected)
    assert np.array_equal(nbinom_ppf(q, r, p), nbinom.ppf(q, r, p))
