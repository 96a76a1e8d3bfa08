"""The volume detector over one count series: what `tocsin detect-series` runs and NAB measures.

Pure functions over arrays; time enters only as the bucket width. For each bucket t, using only
buckets before t (causal):

1. **Expected count** — the median of the same time of day (±1 bucket) over the previous
   `season_days` days of the same kind (`weekly`: a Saturday is compared with earlier weekend
   days, a Tuesday with earlier weekdays; every day while no day of its kind exists yet),
   raised to the median of the last `trend_minutes` (6 hours) when the topic
   is trending up, so a slow rise is followed rather than paged; before a day of history exists,
   the median of the last `recent_minutes`. Never below `min_expected_per_hour` (36 an hour, 3
   per 5-minute bucket), so a quiet topic is judged against a floor, not against zero. A window
   of k buckets is compared with the sum of the k buckets' expected counts. Durations and the
   floor are in time, not buckets, so a story pages alike with 1-, 5- or 60-minute buckets.
2. **Spread** — how bursty the topic usually is: the median absolute deviation of
   log(1 + count) − log(1 + expected) over the previous `spread_days`, refreshed every hour.
   It sets the size of a negative-binomial distribution (variance μ + μ²/r, r = k / spread²).
3. **Surprise** — the negative-binomial tail probability of the count summed over the last k
   buckets, for each k in `windows` (15 minutes, an hour and three hours), as
   −log10(p): count statistics, not z-scores, so 3 posts on a topic that sees 0.5 does not page.
   A window that holds less than `min_rise` (1.5) × its expected count has no surprise at all:
   on a busy topic 10 % more over three hours is improbable, but it is not news.
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

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
#: Tail probabilities below 1e-300 are all equally impossible.
MAX_SURPRISE = 300.0


@dataclass(frozen=True)
class SeriesSettings:
    season_days: int = 14
    recent_minutes: int = 60
    trend_minutes: int = 360
    min_expected_per_hour: float = 36.0
    spread_days: float = 3.0
    min_spread: float = 0.05
    windows_minutes: tuple[int, ...] = (15, 60, 180)
    memory_days: int = 14
    memory_rank: int = 2
    min_surprise: float = 6.0
    alert_score: float = 0.5
    cooldown_hours: float = 12.0
    warmup_days: float = 1.0
    #: A window counts only if it holds at least `min_rise` × its expected count: statistical
    #: surprise alone is not enough on a busy topic, where 10 % more is already "improbable".
    min_rise: float = 1.5
    #: The seasonal median reads only earlier days of the same kind (weekday or weekend, UTC),
    #: falling back to every day when none exists yet.
    weekly: bool = True


DEFAULT = SeriesSettings()


@dataclass(frozen=True)
class SeriesResult:
    expected: Array
    surprise: Array
    score: Array
    alert: NDArray[np.int64]


def _median(x: Array | list[float]) -> float:
    """`np.median` of a short array without its dispatch (the same float: the middle value, or
    the two middle values' sum halved, as `np.mean` of two values computes it)."""
    vals = sorted(x if isinstance(x, list) else x.tolist())
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2


def _lagged_median(v: Array, lags: list[int], idx: NDArray[np.int64]) -> Array:
    """For each i in idx, the median of v[i - lag] over the lags that exist (NaN where none do)."""
    if len(idx) <= 8:  # the live case, one new bucket: skip nanmedian's masked-array path
        lag_arr = np.asarray(lags, dtype=np.int64)
        lag_arr = lag_arr[lag_arr > 0]
        small = np.full(len(idx), np.nan)
        for j, i in enumerate(idx.tolist()):
            src = i - lag_arr
            src = src[src >= 0]
            if len(src):
                small[j] = _median(v[src])
        return small
    stack = np.full((len(lags), len(idx)), np.nan)
    for row, lag in enumerate(lags):
        src = idx - lag
        ok = src >= 0
        if lag > 0 and ok.any():
            stack[row, ok] = v[src[ok]]
    out = np.full(len(idx), np.nan)
    have = ~np.all(np.isnan(stack), axis=0)
    if have.any():
        out[have] = np.nanmedian(stack[:, have], axis=0)
    return out


def _kind_median(
    v: Array, lags: list[int], idx: NDArray[np.int64], bucket_seconds: int, epoch0: float
) -> Array:
    """`_lagged_median` over the lags whose bucket is the same kind of day as i."""
    lag_arr = np.asarray([lag for lag in lags if lag > 0], dtype=np.int64)
    src = idx[None, :] - lag_arr[:, None]
    ok = src >= 0
    src = np.where(ok, src, 0)
    good = ok & (weekend(src, bucket_seconds, epoch0) == weekend(idx, bucket_seconds, epoch0))
    out = np.full(len(idx), np.nan)
    if len(idx) <= 8:  # the live case: skip nanmedian's masked-array path
        for j in range(len(idx)):
            pick = src[good[:, j], j]
            if len(pick):
                out[j] = _median(v[pick])
        return out
    # The median of each column's kept values: sort with the others last (NaN sorts last).
    stack = np.sort(np.where(good, v[src], np.nan), axis=0)
    k = good.sum(axis=0)
    have = k > 0
    cols = np.flatnonzero(have)
    lo, hi = (k[have] - 1) // 2, k[have] // 2
    out[have] = (stack[lo, cols] + stack[hi, cols]) / 2
    return out


def weekend(i: NDArray[np.int64], bucket_seconds: int, epoch0: float) -> NDArray[np.bool_]:
    """Whether bucket i starts on a Saturday or Sunday (UTC); 1970-01-01 was a Thursday."""
    days = np.floor((epoch0 + i * bucket_seconds) / 86400).astype(np.int64)
    return (days + 3) % 7 >= 5


def _per_day(bucket_seconds: int) -> int:
    return max(1, round(86400 / bucket_seconds))


def expected_at(
    v: Array,
    idx: NDArray[np.int64],
    bucket_seconds: int,
    s: SeriesSettings = DEFAULT,
    epoch0: float = 0.0,
) -> Array:
    """Expected count of the buckets `idx` from the buckets before each of them."""
    if len(idx) == 1:  # the live case, one new bucket
        return np.array([_expected_one(v, int(idx[0]), bucket_seconds, s, epoch0)])
    per_day = _per_day(bucket_seconds)
    lags = _season_lags(per_day, s.season_days).tolist()
    season = _lagged_median(v, lags, idx)
    if s.weekly:
        same = _kind_median(v, lags, idx, bucket_seconds, epoch0)
        season = np.where(np.isnan(same), season, same)

    recent_n = _window_buckets(s.recent_minutes, bucket_seconds)
    recent = _lagged_median(v, list(range(1, recent_n + 1)), idx)
    trend_n = _window_buckets(s.trend_minutes, bucket_seconds)
    step = max(1, trend_n // 48)
    trend = _lagged_median(v, list(range(1, trend_n + 1, step)), idx)
    # The usual level for this time of day, raised to the last hours' level when a topic is
    # trending up, so a slow rise is followed rather than paged.
    mu = np.where(np.isnan(season), recent, np.fmax(season, np.nan_to_num(trend, nan=0.0)))
    floor = min_expected(bucket_seconds, s)
    return np.fmax(np.nan_to_num(mu, nan=floor), floor)


@functools.cache
def _season_lags(per_day: int, season_days: int) -> NDArray[np.int64]:
    """The positive lags of the seasonal median, ascending: the same time of day, give or take a
    bucket, on each of the last `season_days` days."""
    lags = [d * per_day + j for d in range(1, season_days + 1) for j in (-1, 0, 1)]
    out = np.array(sorted(lag for lag in lags if lag > 0), dtype=np.int64)
    out.flags.writeable = False  # shared by every call
    return out


def _expected_one(v: Array, i: int, bucket_seconds: int, s: SeriesSettings, epoch0: float) -> float:
    """`expected_at(v, [i])[0]` in Python floats: the same medians of the same values (with
    `_median`, as `expected_at` takes them for a few buckets), without its arrays per lag list.
    The recent and trend lags are slices of `v`; the seasonal ones one gather."""
    per_day = _per_day(bucket_seconds)
    src = i - _season_lags(per_day, s.season_days)
    src = src[src >= 0]
    nan = math.nan
    season = nan
    if len(src):
        vals = v[src].tolist()
        season = _median(vals)
        if s.weekly:
            mine = bool(weekend(np.array([i]), bucket_seconds, epoch0)[0])
            kinds = weekend(src, bucket_seconds, epoch0).tolist()
            same = [x for x, k in zip(vals, kinds, strict=True) if k == mine]
            if same:
                season = _median(same)
    if math.isnan(season):
        recent_n = _window_buckets(s.recent_minutes, bucket_seconds)
        recent = v[max(0, i - recent_n) : i].tolist()  # lags 1 … recent_n that exist
        mu = _median(recent) if recent else nan
    else:
        trend_n = _window_buckets(s.trend_minutes, bucket_seconds)
        step = max(1, trend_n // 48)
        count = len(range(1, min(trend_n, i) + 1, step))  # lags 1, 1 + step, … that exist
        trend = _median(v[i - 1 - (count - 1) * step : i : step].tolist()) if count else 0.0
        mu = season if season >= trend else trend  # np.fmax of two numbers
    floor = min_expected(bucket_seconds, s)
    if math.isnan(mu):
        return floor
    return mu if mu >= floor else floor


def min_expected(bucket_seconds: int, s: SeriesSettings = DEFAULT) -> float:
    """The floor of one bucket's expected count: `min_expected_per_hour` spread over the hour."""
    return s.min_expected_per_hour * bucket_seconds / 3600


def expected_counts(v: Array, bucket_seconds: int, s: SeriesSettings = DEFAULT) -> Array:
    v = np.asarray(v, dtype=np.float64)
    return expected_at(v, np.arange(len(v)), bucket_seconds, s)


def _spread_at(
    residual: Array, idx: NDArray[np.int64], per_day: int, s: SeriesSettings, phase: int
) -> Array:
    """Trailing MAD of the residuals (scaled to a standard deviation), refreshed on the hour.

    Bucket i belongs to the hour block starting at i − ((i + phase) mod buckets-per-hour); the
    spread of the whole block is computed from the `spread_days` before the block starts.
    `phase` is the first bucket's position within its hour, so the batch run and the live
    run refresh at the same wall-clock hours.
    """
    width = max(2, int(s.spread_days * per_day))
    every = max(1, per_day // 24)
    least = max(2, per_day // 4)
    out = np.full(len(idx), np.nan)
    cache: dict[int, float] = {}
    for j, i in enumerate(idx.tolist()):
        block = i - (i + phase) % every
        value = cache.get(block)
        if value is None:
            past = residual[max(0, block - width) : max(0, block)]
            value = math.nan
            if len(past) >= least:
                med = np.median(past)
                value = 1.4826 * float(np.median(np.abs(past - med)))
            cache[block] = value
        out[j] = value
    return np.fmax(out, s.min_spread)  # too little history: the floor


@functools.cache
def scipy_special(name: str) -> Any:
    """The `scipy.special` function `name`, imported at its first use: every `tocsin` command
    loads this module through the config's detection settings, and importing scipy there doubled
    a command's start-up time. Cached, as a `from … import` in the function costs a few
    microseconds at every call (`importlib._handle_fromlist`)."""
    import scipy.special

    return getattr(scipy.special, name)


def _log10_tail(total: Array, r: Array, p: Array) -> Array:
    """log10 P(X ≥ total) for X ~ NegativeBinomial(r, p) (scipy's parametrisation).

    P(X ≥ x) = I_{1−p}(x, r), the regularised incomplete beta function; calling it directly
    skips `nbinom.logsf`'s argument checks, which cost more than the sum for one bucket.
    Tails below ~1e-308 give −inf, which the caller caps at MAX_SURPRISE.
    """
    betainc = scipy_special("betainc")
    out = np.zeros(len(total))
    pos = total > 0  # P(X ≥ 0) = 1
    if pos.any():
        with np.errstate(divide="ignore"):
            out[pos] = np.log10(betainc(total[pos], r[pos], 1.0 - p[pos]))
    return out


def _window_buckets(minutes: int, bucket_seconds: int) -> int:
    return max(1, round(minutes * 60 / bucket_seconds))


def _surprise_at(
    v: Array,
    mu: Array,
    sigma: Array,
    idx: NDArray[np.int64],
    bucket_seconds: int,
    s: SeriesSettings,
) -> tuple[Array, NDArray[np.int64]]:
    """(surprise, index of the most surprising window) for the buckets idx (ascending)."""
    best = np.zeros(len(idx))
    which = np.zeros(len(idx), dtype=np.int64)
    if not len(idx):
        return best, which
    if len(idx) == 1:
        one, w = _surprise_one(v, mu, float(sigma[0]), int(idx[0]), bucket_seconds, s)
        return np.array([one]), np.array([w], dtype=np.int64)
    longest = max(_window_buckets(m, bucket_seconds) for m in s.windows_minutes)
    lo = max(0, int(idx[0]) - longest + 1)  # only the stretch the windows reach
    hi = int(idx[-1]) + 1
    csum = np.concatenate(([0.0], np.cumsum(v[lo:hi])))
    msum = np.concatenate(([0.0], np.cumsum(mu[lo:hi])))
    for w, minutes in enumerate(s.windows_minutes):
        k = _window_buckets(minutes, bucket_seconds)
        full = idx >= k - 1  # a window needs k buckets
        if not full.any():
            continue
        i = idx[full] - lo
        total = csum[i + 1] - csum[i + 1 - k]
        m = msum[i + 1] - msum[i + 1 - k]  # what the window was expected to hold, bucket by bucket
        r = np.fmax(k / sigma[full] ** 2, 0.5)
        sup = np.zeros(len(idx))
        sup[full] = np.fmin(-_log10_tail(total, r, r / (r + m)), MAX_SURPRISE)
        if s.min_rise > 1.0:
            sup[full] = np.where(total >= s.min_rise * m, sup[full], 0.0)
        better = sup > best
        which[better] = w
        best = np.fmax(best, sup)
    return best, which


@functools.cache
def _windows(bucket_seconds: int, windows_minutes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_window_buckets(m, bucket_seconds) for m in windows_minutes)


def _surprise_one(
    v: Array, mu: Array, sigma: float, i: int, bucket_seconds: int, s: SeriesSettings
) -> tuple[float, int]:
    """`_surprise_at` for the one bucket i (the live case), in Python floats: the same
    operations on the same values (the running sums added in the same order as `np.cumsum`,
    the tail as `_log10_tail` takes it), so the same figures."""
    ks = _windows(bucket_seconds, s.windows_minutes)
    lo = max(0, i - max(ks) + 1)
    csum, msum = _running_sum(v[lo : i + 1].tolist()), _running_sum(mu[lo : i + 1].tolist())
    j = i + 1 - lo
    full = [w for w, k in enumerate(ks) if i >= k - 1]  # a window needs k buckets
    total = [csum[j] - csum[j - ks[w]] for w in full]
    m = [msum[j] - msum[j - ks[w]] for w in full]
    r = [_fmax(ks[w] / (sigma * sigma), 0.5) for w in full]
    log_tail = _log10_tail(
        np.array(total),
        np.array(r),
        np.array([rw / (rw + mw) for rw, mw in zip(r, m, strict=True)]),
    ).tolist()
    sup = [0.0] * len(ks)
    for w, t, mw, lt in zip(full, total, m, log_tail, strict=True):
        got = -lt
        got = MAX_SURPRISE if math.isnan(got) or got > MAX_SURPRISE else got  # np.fmin
        if s.min_rise > 1.0 and not t >= s.min_rise * mw:
            got = 0.0
        sup[w] = got
    # The first most surprising window, as the loop over windows keeps it (0 when none is).
    w = max(range(len(sup)), key=sup.__getitem__)
    best = max(0.0, sup[w])
    return best, w if best > 0 else 0


def _running_sum(x: list[float]) -> list[float]:
    """[0, x0, x0 + x1, …]: `np.cumsum` (which adds one element after the other) with a 0 first."""
    out = [0.0]
    if x:
        acc = x[0]
        out.append(acc)
        for value in x[1:]:
            acc += value
            out.append(acc)
    return out


def _fmax(a: float, b: float) -> float:
    """`np.fmax` of two floats: the larger, or the one that is not NaN."""
    if math.isnan(a):
        return b
    return a if a >= b or math.isnan(b) else b


@dataclass
class VolumeState:
    """A topic's count series with what was already worked out for each bucket (NaN: not yet).

    The live pipeline keeps `expected`, `spread` and `surprise` per bucket (table
    `volume_state`), so judging the newest bucket costs a few lookups, not a pass over weeks.
    """

    values: Array
    expected: Array
    spread: Array
    surprise: Array
    bucket_seconds: int
    phase: int = 0
    #: Start of the first bucket, epoch seconds (weekday of each bucket).
    epoch0: float = 0.0
    #: (bucket, index of its most surprising window) when `fill` worked out that one bucket
    #: alone, so `judge` need not work it out again (None: not known).
    which: tuple[int, int] | None = None

    @classmethod
    def fresh(
        cls, values: Array, bucket_seconds: int, phase: int = 0, epoch0: float = 0.0
    ) -> VolumeState:
        v = np.asarray(values, dtype=np.float64)
        nan = np.full(len(v), np.nan)
        return cls(v, nan.copy(), nan.copy(), nan.copy(), bucket_seconds, phase, epoch0)


def fill(state: VolumeState, s: SeriesSettings = DEFAULT) -> NDArray[np.int64]:
    """Work out the missing expected counts, spreads and surprises in place; return their indices.

    Each value depends only on the buckets before it (and the bucket itself), so filling the
    newest bucket of a stored series gives exactly what a batch run over the whole series gives.
    """
    return _fill(state, s)[0]


def _fill(state: VolumeState, s: SeriesSettings) -> tuple[NDArray[np.int64], dict[int, int]]:
    v = state.values
    per_day = _per_day(state.bucket_seconds)
    every = max(1, per_day // 24)
    todo_mu = np.flatnonzero(np.isnan(state.expected))
    if len(todo_mu):
        state.expected[todo_mu] = expected_at(v, todo_mu, state.bucket_seconds, s, state.epoch0)
    todo = np.flatnonzero(np.isnan(state.spread) | np.isnan(state.surprise))
    which: dict[int, int] = {}
    one = _fill_one(state, int(todo[0]), s, every) if len(todo) == 1 else None
    if one is not None:
        which = {int(todo[0]): one}
    elif len(todo):
        need = todo[np.isnan(state.spread[todo])]
        # A bucket inside an hour block whose earlier bucket is known shares its spread.
        same = (need > 0) & ((need + state.phase) % every != 0)
        same &= ~np.isnan(state.spread[np.maximum(need - 1, 0)])
        if len(need) == 1 and same[0]:
            state.spread[need] = state.spread[need - 1]
        elif len(need):
            # Residuals only where a refresh can look: the days before the first block.
            lo = max(0, int(need[0]) - every - int(s.spread_days * per_day) - 1)
            residual = np.full(len(v), np.nan)
            residual[lo:] = np.log1p(v[lo:]) - np.log1p(state.expected[lo:])
            state.spread[need] = _spread_at(residual, need, per_day, s, state.phase)
        sup, best = _surprise_at(
            v, state.expected, state.spread[todo], todo, state.bucket_seconds, s
        )
        state.surprise[todo] = sup
        which = {int(todo[-1]): int(best[-1])}
        # Only for one bucket alone: `judge` works it out for [i] alone, so this is the same.
        state.which = (int(todo[0]), int(best[0])) if len(todo) == 1 else None
    if not len(todo_mu) or np.array_equal(todo_mu, todo):
        return todo, which  # flatnonzero's indices: ascending and distinct, as union1d's
    if not len(todo):
        return todo_mu, which
    return np.union1d(todo_mu, todo).astype(np.int64), which


def _fill_one(state: VolumeState, i: int, s: SeriesSettings, every: int) -> int | None:
    """The spread and surprise of the one bucket i (the live case) when its spread is known or
    is its hour block's (an earlier bucket of the block is known), as `_fill` works them out for
    [i]; return the index of its most surprising window. None, with nothing changed, when the
    spread needs a refresh (`_fill` does it)."""
    spread = float(state.spread[i])
    if math.isnan(spread):
        if i == 0 or (i + state.phase) % every == 0:
            return None
        spread = float(state.spread[i - 1])
        if math.isnan(spread):
            return None
        state.spread[i] = spread
    sup, w = _surprise_one(state.values, state.expected, spread, i, state.bucket_seconds, s)
    state.surprise[i] = sup
    state.which = (i, w)
    return w


def surprise(
    v: Array, bucket_seconds: int, s: SeriesSettings = DEFAULT, phase: int = 0, epoch0: float = 0.0
) -> tuple[Array, Array]:
    """(expected, surprise) per bucket; surprise is −log10 of the negative-binomial tail."""
    state = VolumeState.fresh(v, bucket_seconds, phase, epoch0)
    fill(state, s)
    return state.expected, state.surprise


def phase_of(first_start_epoch_seconds: float, bucket_seconds: int) -> int:
    """Position of the first bucket within its hour, in buckets (0 = it starts the hour)."""
    every = max(1, _per_day(bucket_seconds) // 24)
    return int(first_start_epoch_seconds // bucket_seconds) % every


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


def reference_at(sup: Array, i: int, per_day: int, s: SeriesSettings = DEFAULT) -> float:
    """`reference(sup)[i]` without computing it for every bucket."""
    days = max(1, s.memory_days)
    # Day j is sup[i - (j + 1) · per_day : i - j · per_day]; the whole days are one reshape,
    # listed newest first, then the part of a day at the start, then nothing.
    whole = min(days, i // per_day)
    peaks = sup[i - whole * per_day : i].reshape(whole, per_day).max(axis=1)[::-1].tolist()
    if whole < days:
        hi = i - whole * per_day
        peaks.append(float(np.max(sup[:hi])) if hi > 0 else 0.0)
        peaks += [0.0] * (days - len(peaks))
    rank = min(max(1, s.memory_rank), len(peaks))
    return max(sorted(peaks, reverse=True)[rank - 1], s.min_surprise)


@dataclass(frozen=True)
class Judgement:
    """The newest bucket judged the way `detect` judges every bucket (before its cooldown)."""

    expected: float  # the bucket's own expected count
    window_minutes: int  # the most surprising window ending with this bucket
    window_buckets: int
    window_observed: float
    window_expected: float
    spread: float
    surprise: float
    reference: float
    score: float
    p_value: float
    warmed_up: bool

    def band(self, coverage: float = 0.9) -> tuple[float, float]:
        """The central `coverage` interval of the window's count under the usual behaviour."""
        r = max(self.window_buckets / max(self.spread, 1e-9) ** 2, 0.5)
        p = r / (r + self.window_expected)
        lo, hi = nbinom_ppf(np.array([(1 - coverage) / 2, (1 + coverage) / 2]), r, p)
        return float(lo), float(hi)


def nbinom_ppf(q: NDArray[np.float64], r: float, p: float) -> NDArray[np.float64]:
    """`scipy.stats.nbinom.ppf(q, r, p)` for 0 < q < 1, r > 0, 0 < p ≤ 1 (what `band` asks):
    the function it calls after its argument checks. Importing `scipy.stats` costs about half a
    second of every command's start-up (the demo's, a worker's), and `band` is its only use."""
    try:
        from scipy.special._ufuncs import _nbinom_ppf  # scipy ≥ 1.9 (pyproject: ≥ 1.11)
    except ImportError:  # pragma: no cover - a future scipy that moves it: the public way
        from scipy.stats import nbinom

        return np.asarray(nbinom.ppf(q, r, p), dtype=float)
    with np.errstate(over="ignore"):  # as scipy.stats does (scipy gh-17432)
        return np.asarray(_nbinom_ppf(q, r, p), dtype=float)


def judge(state: VolumeState, s: SeriesSettings = DEFAULT) -> tuple[Judgement, NDArray[np.int64]]:
    """Fill what is missing, then judge the newest bucket; also return the indices filled."""
    filled, known = _fill(state, s)
    i = len(state.values) - 1
    per_day = _per_day(state.bucket_seconds)
    if i in known:
        w = known[i]
    elif state.which is not None and state.which[0] == i:
        w = state.which[1]
    else:  # already stored: which window was the most surprising?
        idx = np.array([i], dtype=np.int64)
        w = int(
            _surprise_at(
                state.values, state.expected, state.spread[idx], idx, state.bucket_seconds, s
            )[1][0]
        )
    sup = float(state.surprise[i])
    minutes = s.windows_minutes[w]
    k = min(i + 1, _window_buckets(minutes, state.bucket_seconds))
    observed = float(state.values[i + 1 - k : i + 1].sum())
    expected = float(state.expected[i + 1 - k : i + 1].sum())
    ref = reference_at(state.surprise, i, per_day, s)
    ratio = sup / ref
    warmed_up = i >= int(s.warmup_days * per_day)
    return (
        Judgement(
            expected=float(state.expected[i]),
            window_minutes=minutes,
            window_buckets=k,
            window_observed=observed,
            window_expected=expected,
            spread=float(state.spread[i]),
            surprise=sup,
            reference=ref,
            score=ratio / (ratio + 1.0) if warmed_up else 0.0,
            p_value=10.0**-sup,
            warmed_up=warmed_up,
        ),
        filled,
    )


def detect(
    values: Array,
    bucket_seconds: int,
    s: SeriesSettings = DEFAULT,
    phase: int = 0,
    epoch0: float = 0.0,
) -> SeriesResult:
    """Score and alert every bucket of a count series (see the module docstring).

    `phase` is the first bucket's position within its wall-clock hour (see `phase_of`).
    """
    v = np.asarray(values, dtype=np.float64)
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("counts must be finite and non-negative")
    n = len(v)
    per_day = _per_day(bucket_seconds)
    mu, sup = surprise(v, bucket_seconds, s, phase, epoch0)
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
