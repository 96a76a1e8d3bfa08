"""The volume detector over one count series: what `tocsin detect-series` runs and NAB measures.

Pure functions over arrays; time enters only as the bucket width. For each bucket t, using only
buckets before t (causal):

1. **Expected count** — the median of the same time of day (±1 bucket) over the previous
   `season_days` days, raised to the median of the last `trend_buckets` (6 hours) when the topic
   is trending up, so a slow rise is followed rather than paged; before a day of history exists,
   the median of the last `recent_buckets`. Never below `min_expected`, so a quiet topic is
   judged against a floor, not against zero. A window of k buckets is compared with the sum of
   the k buckets' expected counts.
2. **Spread** — how bursty the topic usually is: the median absolute deviation of
   log(1 + count) − log(1 + expected) over the previous `spread_days`, refreshed every hour.
   It sets the size of a negative-binomial distribution (variance μ + μ²/r, r = k / spread²).
3. **Surprise** — the negative-binomial tail probability of the count summed over the last k
   buckets, for each k in `windows` (15 minutes, an hour and three hours), as
   −log10(p): count statistics, not z-scores, so 3 posts on a topic that sees 0.5 does not page.
4. **Trust** — the surprise is compared with the topic's own record: the peak surprise of each
   of the previous `memory_days` days (day = the 24 hours ending at each earlier point), and
   the `memory_rank`-th largest of those peaks is the reference (never less than
   `min_surprise`). With the defaults a burst pages when it is more surprising than the
   *second* most surprising day of the last two weeks: a topic that bursts every day needs a
   bigger burst than one that never does, and one freak spike does not mask the next real
   event for days (the largest peak is set aside). On a topic with no real events the chance
   that a given day beats that reference is at most rank / (days + 1) = 2/15, so noise alone
   pages about once a week at most, and less after `min_surprise`.
   `anomaly_score = ratio / (ratio + 1)`, where ratio = surprise / reference; 0.5 means
   "as surprising as the reference day".
5. **One alert per event** — a bucket alerts when its score reaches `alert_score` and no alert
   was raised in the previous `cooldown_hours`; scores that do not beat the highest score of the
   cooldown window are reported as 0, so every threshold gives event onsets, not every bucket
   of a long surge. Nothing alerts during the first `warmup_days`.

A constant or slowly trending series never alerts: its residuals stay inside the spread and its
surprise stays below `min_surprise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import nbinom

Array = NDArray[np.float64]
#: Tail probabilities below 1e-300 are all equally impossible.
MAX_SURPRISE = 300.0


@dataclass(frozen=True)
class SeriesSettings:
    season_days: int = 14
    recent_buckets: int = 12
    trend_buckets: int = 72
    min_expected: float = 3.0
    spread_days: float = 3.0
    min_spread: float = 0.05
    windows_minutes: tuple[int, ...] = (15, 60, 180)
    memory_days: int = 14
    memory_rank: int = 2
    min_surprise: float = 6.0
    alert_score: float = 0.5
    cooldown_hours: float = 12.0
    warmup_days: float = 1.0


DEFAULT = SeriesSettings()


@dataclass(frozen=True)
class SeriesResult:
    expected: Array
    surprise: Array
    score: Array
    alert: NDArray[np.int64]


def _lagged_median(v: Array, lags: list[int]) -> Array:
    n = len(v)
    stack = np.full((len(lags), n), np.nan)
    for i, lag in enumerate(lags):
        if 0 < lag < n:
            stack[i, lag:] = v[: n - lag]
    out = np.full(n, np.nan)
    have = ~np.all(np.isnan(stack), axis=0)
    if have.any():
        out[have] = np.nanmedian(stack[:, have], axis=0)
    return out


def expected_counts(v: Array, bucket_seconds: int, s: SeriesSettings = DEFAULT) -> Array:
    per_day = max(1, round(86400 / bucket_seconds))
    lags = [d * per_day + j for d in range(1, s.season_days + 1) for j in (-1, 0, 1)]
    season = _lagged_median(v, lags)
    recent = _lagged_median(v, list(range(1, s.recent_buckets + 1)))
    trend = _lagged_median(v, list(range(1, s.trend_buckets + 1, max(1, s.trend_buckets // 48))))
    # The usual level for this time of day, raised to the last hour's level when a topic is
    # trending up, so a slow rise is followed rather than paged.
    mu = np.where(np.isnan(season), recent, np.fmax(season, np.nan_to_num(trend, nan=0.0)))
    return np.fmax(np.nan_to_num(mu, nan=s.min_expected), s.min_expected)


def _spread(residual: Array, per_day: int, s: SeriesSettings) -> Array:
    """Trailing MAD of the residuals (scaled to a standard deviation), refreshed hourly."""
    n = len(residual)
    width = max(2, int(s.spread_days * per_day))
    every = max(1, per_day // 24)
    least = max(2, per_day // 4)
    out = np.full(n, np.nan)
    starts = list(range(0, n, every))
    for t in starts:
        past = residual[max(0, t - width) : t]
        if len(past) >= least:
            med = np.median(past)
            out[t : t + every] = 1.4826 * np.median(np.abs(past - med))
    return np.nan_to_num(np.fmax(out, s.min_spread), nan=0.5)


def surprise(v: Array, bucket_seconds: int, s: SeriesSettings = DEFAULT) -> tuple[Array, Array]:
    """(expected, surprise) per bucket; surprise is −log10 of the negative-binomial tail."""
    v = np.asarray(v, dtype=np.float64)
    per_day = max(1, round(86400 / bucket_seconds))
    mu = expected_counts(v, bucket_seconds, s)
    sigma = _spread(np.log1p(v) - np.log1p(mu), per_day, s)
    best = np.zeros(len(v))
    csum = np.concatenate(([0.0], np.cumsum(v)))
    msum = np.concatenate(([0.0], np.cumsum(mu)))
    for minutes in s.windows_minutes:
        k = max(1, round(minutes * 60 / bucket_seconds))
        if k > len(v):
            continue
        total = np.full(len(v), np.nan)
        total[k - 1 :] = csum[k:] - csum[:-k]
        m = np.full(len(v), np.nan)
        m[k - 1 :] = msum[k:] - msum[:-k]  # what the window was expected to hold, bucket by bucket
        m = np.nan_to_num(m, nan=1.0)
        r = np.fmax(k / sigma**2, 0.5)
        logp = nbinom.logsf(np.nan_to_num(total) - 1, r, r / (r + m)) / math.log(10)
        best = np.fmax(best, np.where(np.isnan(total), 0.0, np.fmin(-logp, MAX_SURPRISE)))
    return mu, best


def _trailing_max(x: Array, width: int) -> Array:
    """max(x[t - width : t]) for each t (0 where nothing precedes)."""
    from scipy.ndimage import maximum_filter1d

    if len(x) == 0:
        return x.copy()
    # maximum_filter1d centres its window; shift it so it covers [t - width, t - 1].
    padded = np.concatenate((np.zeros(width), x))
    m = maximum_filter1d(padded, size=width, origin=(width - 1) // 2, mode="constant", cval=0.0)
    return m[width - 1 : width - 1 + len(x)]


def reference(sup: Array, per_day: int, s: SeriesSettings = DEFAULT) -> Array:
    """The `memory_rank`-th largest daily peak surprise of the previous `memory_days` days."""
    n = len(sup)
    day_peak = _trailing_max(sup, per_day)  # peak of the 24 hours before each point
    peaks = np.zeros((max(1, s.memory_days), n))
    for j in range(s.memory_days):
        lag = j * per_day
        if lag < n:
            peaks[j, lag:] = day_peak[: n - lag]
    rank = min(max(1, s.memory_rank), len(peaks))
    kth = -np.partition(-peaks, rank - 1, axis=0)[rank - 1]
    return np.fmax(kth, s.min_surprise)


def detect(values: Array, bucket_seconds: int, s: SeriesSettings = DEFAULT) -> SeriesResult:
    """Score and alert every bucket of a count series (see the module docstring)."""
    v = np.asarray(values, dtype=np.float64)
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("counts must be finite and non-negative")
    n = len(v)
    per_day = max(1, round(86400 / bucket_seconds))
    mu, sup = surprise(v, bucket_seconds, s)
    ratio = sup / reference(sup, per_day, s)
    score = ratio / (ratio + 1.0)
    score[: int(s.warmup_days * per_day)] = 0.0
    cooldown = max(1, int(s.cooldown_hours * 3600 / bucket_seconds))
    score = np.where(score > _trailing_max(score, cooldown), score, 0.0)
    alert = np.zeros(n, dtype=np.int64)
    last = -(10**12)
    for t in np.flatnonzero(score >= s.alert_score):
        if t - last > cooldown:
            alert[t] = 1
            last = int(t)
    return SeriesResult(mu, sup, score, alert)
