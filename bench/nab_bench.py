"""NAB realTweets score of `tocsin detect-series` with its shipped defaults.

    python bench/nab_bench.py [--shared ../shared]

1. Runs `worker.detection.cli.detect_series` (exactly what `tocsin detect-series` runs) over every
   realTweets file found under SHARED/data/nab/data, writing bench/out/nab/<file>.csv.
2. Scores with SHARED/nab_score.py: the `alert` column at one fixed threshold (0.5) — the number
   that counts — and, for reference, `anomaly_score` with the threshold swept on the same files.
3. Prints the false-positive rows at the default and the detector's per-point throughput.
4. Runs an open-source peer in the same process on the same files: LinkedIn's luminol (Apache-2.0,
   its default bitmap detector), scored the same two ways — its own anomalies (one alert at each
   anomaly's peak: luminol's default decision) and its scores with the threshold swept — with its
   per-point throughput. Luminol looks at future points too (its bitmap compares the windows
   before and after each point), so it is not a causal, live-usable detector; it is here as the
   yardstick the issue names.
5. With `--validate`, checks that hold without peeking at held-out data (docs/benchmarks.md):
   - **leave-one-series-out**: for each of the five half-A files and each grid of `LOSO_GRIDS`,
     the settings that score best on the other four are scored on it; the mean and the worst are printed,
     beside the shipped defaults' own per-file scores;
   - **plateau**: each setting of `PLATEAU` moved one step either side of its default, alone,
     scored on half A; a default is acceptable only where every neighbour is within a few points;
   - **other NAB categories** (realTraffic, realAdExchange, realKnownCause, realAWSCloudwatch,
     artificialWithAnomaly), shipped defaults. Files `tocsin detect-series` refuses (a repeated
     timestamp, a negative value) are listed and scored as no alerts.
   - **history cut**: the five half-A files with their first 4 and 7 days removed (labelled
     windows that fall in the new probationary period dropped): the same stories seen with less
     history before them, as a series that starts later would see them.
6. With `--diagnose`, where the default settings go wrong on realTweets: every alert (true or
   false, its day since the series starts, weekday, score, surprise against its reference, the
   rise of each window, the last day's level against the week before) and every missed window
   (its best score and rise), then a count of the false positives by cause; and the recall of
   **injected stories**: a nine-hour story (an hour's ramp, two hours at its height, a six-hour
   decay) added, one at a time, every two days of each half-A file away from its labelled
   windows, at 3 and 5 times the file's own daily mean; found = an alert within 12 hours of its
   start. This counts misses on many more stories than half A's 16 windows.
7. With `--reference`, the trust-reference variants measured for issue 15 (a busy topic blind
   after two cap-level days; `REFERENCE_VARIANTS`, none shipped): each replaces
   `series.reference` for the run only, and is scored on half A (all, per file, leave-one-out
   on the rank grid), on the injected stories, on the other categories, and on a generated
   topic that bursts every day (the guarantee of
   `test_a_topic_that_bursts_every_day_stops_paging_on_its_bursts`: no page after day 5).
The data stay in SHARED; nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import platform
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.detection import series as series_module  # noqa: E402
from worker.detection.cli import (  # noqa: E402
    SeriesError,
    as_counts,
    detect_rows,
    detect_series,
    read_series,
    read_series_rows,
)
from worker.detection.series import (  # noqa: E402
    DEFAULT,
    SeriesSettings,
    detect,
    reference,
)

#: What leave-one-series-out may fit on four files. "rank": the one setting without a meaning
#: of its own (memory_days is the seasonal baseline's two weeks, alert_score 0.5 is "as
#: surprising as the reference day"); "wide": the earlier grid, kept to compare.
LOSO_GRIDS: dict[str, dict[str, tuple[object, ...]]] = {
    "rank": {"memory_rank": (1, 2, 3, 4)},
    "wide": {
        "memory_days": (14, 21, 28),
        "memory_rank": (2, 3),
        "alert_score": (0.45, 0.5),
    },
}
#: One step either side of each default, for the plateau check.
PLATEAU: dict[str, tuple[object, ...]] = {
    "memory_days": (7, 21),
    "memory_rank": (1, 3),
    "alert_score": (0.45, 0.55),
    "min_surprise": (4.0, 8.0),
    "cooldown_hours": (6.0, 24.0),
    "min_expected_per_hour": (18.0, 72.0),
    "spread_days": (2.0, 5.0),
    "season_days": (7, 21),
    "trend_minutes": (180, 720),
    "windows_minutes": ((15, 60), (15, 60, 180, 360)),
    "min_rise": (1.25, 2.0),
    "weekly": (False,),
}
OTHER = (
    "realTraffic",
    "realAdExchange",
    "realKnownCause",
    "realAWSCloudwatch",
    "artificialWithAnomaly",
)


def load_scorer(shared: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("nab_score", shared / "nab_score.py")
    assert spec and spec.loader, f"{shared / 'nab_score.py'} not found"
    mod = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = mod
    spec.loader.exec_module(mod)
    return mod


def luminol_frames(ts: list[str], values: list[float]) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(one alert per luminol anomaly, luminol scores scaled to [0, 1], seconds taken)."""
    import numpy

    if not hasattr(numpy, "asscalar"):  # luminol 0.4 predates NumPy 1.23's removal of asscalar
        numpy.asscalar = lambda a: a.item()  # type: ignore[attr-defined]
    from luminol.anomaly_detector import AnomalyDetector

    t0 = time.perf_counter()
    detector = AnomalyDetector({i: float(v) for i, v in enumerate(values)})
    scores = detector.get_all_scores()
    anomalies = detector.get_anomalies()
    seconds = time.perf_counter() - t0
    s = np.array(scores.values, dtype=float)
    s = s / s.max() if s.max() > 0 else s
    alert = np.zeros(len(values))
    for a in anomalies:
        alert[int(a.exact_timestamp)] = 1.0
    base = pd.DataFrame({"timestamp": ts, "value": values})
    return base.assign(anomaly_score=alert), base.assign(anomaly_score=s), seconds


def report(nab, fixed, swept, fixed_name: str, swept_name: str, default_name: str) -> None:  # type: ignore[no-untyped-def]
    """Per profile, the fixed-decision and swept scores; then windows and FP rows at the fixed one."""
    for profile in nab.PROFILE_ORDER:
        f_, s_ = fixed[profile], swept[profile]
        print(
            f"{profile:20s} {fixed_name}: {f_['normalized']:6.1f}   "
            f"{swept_name}: {s_['normalized']:6.1f} (threshold {s_['threshold']})"
        )
    std = fixed["standard"]
    print(
        f"standard, {default_name}: windows detected {std['windows_detected']}/{std['windows']}, "
        f"false-positive rows {std['fp_rows']}"
    )


class Runs:
    """Alert columns of the series detector per (file, settings), computed once."""

    def __init__(self, nab, data: Path) -> None:  # type: ignore[no-untyped-def]
        self.nab, self.data = nab, data
        self.series: dict[str, tuple[list[str], np.ndarray, int, float, np.ndarray, bool]] = {}
        self.cache: dict[tuple[str, SeriesSettings], np.ndarray] = {}

    def load(self, key: str) -> tuple[list[str], np.ndarray, int, float, np.ndarray, bool]:
        if key not in self.series:
            refused = False
            try:
                stamps, values, width, epoch0, offsets = read_series_rows(self.data / key)
                v = np.array(values)
            except SeriesError:
                refused = True  # scored as no alerts, as a user would get nothing
                df = pd.read_csv(self.data / key)
                stamps, v, width = (
                    [str(x) for x in df["timestamp"]],
                    df["value"].to_numpy(float),
                    300,
                )
                epoch0, offsets = 0.0, np.zeros(len(v))
            self.series[key] = (stamps, v, width, epoch0, offsets, refused)
        return self.series[key]

    def alerts(self, key: str, s: SeriesSettings) -> pd.DataFrame:
        stamps, v, width, epoch0, offsets, refused = self.load(key)
        if (key, s) not in self.cache:
            self.cache[key, s] = (
                np.zeros(len(v))
                if refused
                else detect_rows(as_counts(v), offsets, width, s, epoch0)[1].astype(float)
            )
        return pd.DataFrame({"timestamp": stamps, "value": v, "anomaly_score": self.cache[key, s]})

    def score(self, keys: list[str], s: SeriesSettings, profile: str = "standard") -> dict:  # type: ignore[type-arg]
        frames = {k: self.alerts(k, s) for k in keys}
        return self.nab.score(frames, thresholds={p: 0.5 for p in self.nab.PROFILE_ORDER})[profile]

    def cut(self, keys: list[str], s: SeriesSettings, days: int) -> dict:  # type: ignore[type-arg]
        """Standard score of `keys` with their first `days` days removed."""
        frames, windows = {}, {}
        labels = self.nab.load_windows()
        for k in keys:
            stamps, v, width, epoch0, offsets, refused = self.load(k)
            at = int(np.searchsorted(offsets, days * 86400.0))
            alert = (
                np.zeros(len(v) - at)
                if refused
                else detect_rows(
                    as_counts(v[at:]), offsets[at:] - offsets[at], width, s, epoch0 + offsets[at]
                )[1]
            )
            frames[k] = pd.DataFrame(
                {"timestamp": stamps[at:], "value": v[at:], "anomaly_score": alert.astype(float)}
            )
            start = pd.Timestamp(stamps[at:][self.nab.probation_length(len(v) - at)])
            windows[k] = [w for w in labels[k] if w[0] > start]
        return self.nab.score(
            frames, windows=windows, thresholds={p: 0.5 for p in self.nab.PROFILE_ORDER}
        )["standard"]


def row(r: dict) -> str:  # type: ignore[type-arg]
    return f"{r['normalized']:5.1f} ({r['windows_detected']}/{r['windows']}, {r['fp_rows']} FP)"


def validate(nab, data: Path) -> None:  # type: ignore[no-untyped-def]
    runs = Runs(nab, data)
    tweets = sorted(f"realTweets/{p.name}" for p in (data / "realTweets").glob("*.csv"))
    print("\nleave-one-series-out (standard profile; fit = best of the grid on the other four)")
    for name, spec in LOSO_GRIDS.items():
        grid = [
            replace(DEFAULT, **dict(zip(spec, values, strict=True)))  # type: ignore[arg-type]
            for values in itertools.product(*spec.values())
        ]
        print(f"grid {name}: {', '.join(f'{k} {v}' for k, v in spec.items())}")
        held, shipped = [], []
        for k in tweets:
            rest = [x for x in tweets if x != k]
            best = max(grid, key=lambda g: runs.score(rest, g)["normalized"])
            fitted = {n: getattr(best, n) for n in spec}
            r, d = runs.score([k], best), runs.score([k], DEFAULT)
            held.append(r["normalized"])
            shipped.append(d["normalized"])
            print(f"  {k:36s} fitted {fitted}: {row(r)}   shipped defaults: {row(d)}")
        print(
            f"  LOSO ({name}) mean {np.mean(held):.1f}, worst {min(held):.1f}; "
            f"shipped defaults per file: mean {np.mean(shipped):.1f}, worst {min(shipped):.1f}"
        )
    print("\nhistory cut (half A without its first days; windows in the new probation dropped)")
    for days in (4, 7):
        print(f"  first {days} days removed: {row(runs.cut(tweets, DEFAULT, days))}")
    print("\nplateau (half A, standard; one setting moved, the others at their defaults)")
    base = runs.score(tweets, DEFAULT)
    print(f"  defaults: {row(base)}")
    for name, values in PLATEAU.items():
        cells = []
        for value in values:
            r = runs.score(tweets, replace(DEFAULT, **{name: value}))  # type: ignore[arg-type]
            flag = "" if abs(r["normalized"] - base["normalized"]) <= 5 else " <-- off the plateau"
            cells.append(f"{value}: {row(r)}{flag}")
        print(f"  {name} (default {getattr(DEFAULT, name)}): " + "; ".join(cells))
    print("\nother NAB categories (shipped defaults, standard / low FP / low FN)")
    for cat in OTHER:
        keys = sorted(f"{cat}/{p.name}" for p in (data / cat).glob("*.csv"))
        res = [runs.score(keys, DEFAULT, p) for p in nab.PROFILE_ORDER]
        refused = [k.split("/")[1] for k in keys if runs.load(k)[5]]
        note = (
            f"; refused by detect-series (scored as no alerts): {', '.join(refused)}"
            if refused
            else ""
        )
        print(
            f"  {cat:22s} {row(res[0])}  low FP {res[1]['normalized']:5.1f}  "
            f"low FN {res[2]['normalized']:5.1f}{note}"
        )


#: Injected story, per five-minute bucket: an hour's ramp, two hours at its height, then a
#: six-hour decay (multiplied by (size − 1) × the file's daily mean).
_T = np.arange(9 * 12)
STORY = np.where(_T < 12, (_T + 1) / 12, np.where(_T < 36, 1.0, np.exp(-(_T - 36) / 24)))


def rises(v: np.ndarray, expected: np.ndarray, width: int, t: int) -> str:
    """Observed / expected over each window of the defaults ending at bucket t."""
    out = []
    for m in DEFAULT.windows_minutes:
        n = max(1, round(m * 60 / width))
        if t >= n - 1:
            out.append(f"{v[t - n + 1 : t + 1].sum() / expected[t - n + 1 : t + 1].sum():.1f}")
    return "/".join(out)


def diagnose(nab, data: Path) -> None:  # type: ignore[no-untyped-def]
    """Where the defaults go wrong on half A, and the recall of injected stories."""
    runs = Runs(nab, data)
    labels = nab.load_windows()
    tweets = sorted(f"realTweets/{p.name}" for p in (data / "realTweets").glob("*.csv"))
    s = DEFAULT
    causes: dict[str, int] = {}
    print("\ndiagnosis (realTweets half A, shipped defaults)")
    for k in tweets:
        stamps, v, width, epoch0, _, _ = runs.load(k)
        per_day = round(86400 / width)
        r = detect(v, width, s, epoch0=epoch0)
        ref = reference(r.surprise, per_day, s)
        geo = nab.file_geometry(k, stamps, labels[k])
        ts = pd.to_datetime(pd.Series(stamps))
        print(f"  {k}")
        for t in np.flatnonzero(r.alert):
            day = (ts[t] - ts[0]).total_seconds() / 86400
            last = np.median(v[max(0, t - per_day) : t])
            week = (
                np.median(v[max(0, t - 8 * per_day) : max(0, t - per_day)]) if t > per_day else last
            )
            shift = (last + 1) / (week + 1)
            if not geo.keep[t]:
                tag = "probation"
            elif geo.window[t] >= 0:
                tag = "TP"
            else:
                tag = "FP"
                cause = (
                    "first week"
                    if day < 7
                    else "after a level shift"
                    if shift >= s.min_rise
                    else "weekend"
                    if ts[t].dayofweek >= 5
                    else "weekday, level steady"
                )
                causes[cause] = causes.get(cause, 0) + 1
            print(
                f"    {tag:9s} {ts[t]} day {day:4.1f} {ts[t].day_name()[:3]} score {r.score[t]:.2f}"
                f" surprise {r.surprise[t]:5.1f} / reference {ref[t]:5.1f}, rise {rises(v, r.expected, width, t)}"
                f" (15 min/1 h/3 h), last day / week before {shift:.2f}"
            )
        for w in range(geo.n_windows):
            rows = np.flatnonzero(geo.window == w)
            if len(rows) and not r.alert[rows].any():
                t = int(rows[0] + np.argmax(r.score[rows]))
                print(
                    f"    MISSED    window from {ts[rows[0]]}: best score {r.score[t]:.2f} at {ts[t]},"
                    f" surprise {r.surprise[t]:.1f} / reference {ref[t]:.1f}, rise {rises(v, r.expected, width, t)}"
                )
    print("  false positives by cause: " + ", ".join(f"{c} {n}" for c, n in causes.items()))
    print("\ninjected stories (one at a time, every two days, away from labelled windows)")
    for size in (3, 5):
        found, total = 0, 0
        per_file = []
        for k in tweets:
            hit = n = 0
            for vv, on, end, width, _, epoch0 in injected_stories(runs, k, labels[k], size):
                hit += int(detect(vv, width, s, epoch0=epoch0).alert[on:end].any())
                n += 1
            found, total = found + hit, total + n
            per_file.append(f"{k.split('_')[-1][:-4]} {hit}/{n}")
        print(f"  {size} x the daily mean: found {found}/{total} ({', '.join(per_file)})")


def injected_stories(loader, k: str, labels, size: int):  # type: ignore[no-untyped-def]
    """One story at a time, every two days from day 4, away (±1 day) from the labelled windows:
    `size` × the series' daily mean for the STORY's shape. Yields (the series cut at the story's
    end with the story added, its first bucket, its end, bucket width, buckets a day, epoch0)."""
    stamps, v, width, epoch0, _, _ = loader.load(k)
    per_day = round(86400 / width)
    ts = pd.to_datetime(pd.Series(stamps))
    near = [
        (pd.Timestamp(a) - pd.Timedelta(days=1), pd.Timestamp(b) + pd.Timedelta(days=1))
        for a, b in labels
    ]
    mean = pd.Series(v).rolling(per_day, min_periods=1, center=True).mean().to_numpy()
    rng = np.random.default_rng(zlib.crc32(f"{k}{size}".encode()))
    for day in range(4, len(v) // per_day - 1, 2):
        on = day * per_day + int(rng.integers(0, per_day))
        if any(a <= ts[on] <= b for a, b in near):
            continue
        end = min(len(v), on + per_day // 2)
        vv = v[:end].copy()
        m = min(end - on, len(STORY))
        vv[on : on + m] += rng.poisson(mean[on : on + m] * (size - 1) * STORY[:m])
        yield vv, on, end, width, per_day, epoch0


def _kth(peaks: np.ndarray, rank: int) -> np.ndarray:
    return -np.partition(-peaks, rank - 1, axis=0)[rank - 1]


def _decayed(peaks: np.ndarray, half_life: float) -> np.ndarray:
    return peaks * (0.5 ** (np.arange(len(peaks)) / half_life))[:, None]


def _set_aside_cap(peaks: np.ndarray) -> np.ndarray:
    return np.where(peaks >= series_module.MAX_SURPRISE, 0.0, peaks)


#: Reference variants (issue 15): daily peaks (rows: days back) and settings -> the reference
#: before its `min_surprise` floor. "reported events set aside" is run separately (sequential).
REFERENCE_VARIANTS: dict[str, object] = {
    "shipped (2nd largest daily peak)": lambda p, s: _kth(p, s.memory_rank),
    "ceiling 100": lambda p, s: np.fmin(_kth(p, s.memory_rank), 100.0),
    "ceiling 150 (half the cap)": lambda p, s: np.fmin(_kth(p, s.memory_rank), 150.0),
    "ceiling 200": lambda p, s: np.fmin(_kth(p, s.memory_rank), 200.0),
    "cap-level days set aside": lambda p, s: _kth(_set_aside_cap(p), s.memory_rank),
    "cap-level days count as the largest other day (>= 150)": lambda p, s: _kth(
        np.where(
            p >= series_module.MAX_SURPRISE,
            np.fmax(_set_aside_cap(p).max(axis=0), 150.0)[None, :],
            p,
        ),
        s.memory_rank,
    ),
    "relative cap 4 x median day": lambda p, s: np.fmin(
        _kth(p, s.memory_rank), 4 * np.fmax(np.median(p, axis=0), s.min_surprise)
    ),
    "relative cap 6 x median day": lambda p, s: np.fmin(
        _kth(p, s.memory_rank), 6 * np.fmax(np.median(p, axis=0), s.min_surprise)
    ),
    "relative cap 8 x median day": lambda p, s: np.fmin(
        _kth(p, s.memory_rank), 8 * np.fmax(np.median(p, axis=0), s.min_surprise)
    ),
    "half-life 7 days": lambda p, s: _kth(_decayed(p, 7.0), s.memory_rank),
    "half-life 3.5 days": lambda p, s: _kth(_decayed(p, 3.5), s.memory_rank),
    "compressed scale (power 0.75)": lambda p, s: (
        s.min_surprise * np.fmax(_kth(p, s.memory_rank) / s.min_surprise, 1.0) ** 0.75
    ),
}


def _variant_reference(fn):  # type: ignore[no-untyped-def]
    def ref(sup: np.ndarray, per_day: int, s: SeriesSettings = DEFAULT) -> np.ndarray:
        n = len(sup)
        day_peak = series_module._trailing_max(sup, per_day)
        peaks = np.zeros((max(1, s.memory_days), n))
        for j in range(s.memory_days):
            if j * per_day < n:
                peaks[j, j * per_day :] = day_peak[: n - j * per_day]
        return np.fmax(fn(peaks, s), s.min_surprise)

    return ref


def _alerts(sup: np.ndarray, ref: np.ndarray, per_day: int, s: SeriesSettings, width: int):  # type: ignore[no-untyped-def]
    """`detect`'s last steps (score, cooldown, one alert per event) from a surprise column."""
    ratio = sup / ref
    score = ratio / (ratio + 1.0)
    score[: int(s.warmup_days * per_day)] = 0.0
    cooldown = max(1, int(s.cooldown_hours * 3600 / width))
    score = np.where(score > series_module._trailing_max(score, cooldown), score, 0.0)
    alert = np.zeros(len(sup), dtype=np.int64)
    last = -(10**12)
    for t in np.flatnonzero(score >= s.alert_score):
        if t - last > cooldown:
            alert[t] = 1
            last = int(t)
    return alert


def _alerts_reported_aside(sup, per_day, s, width):  # type: ignore[no-untyped-def]
    """Alerts when the reference ignores the `cooldown_hours` after each alert (an event
    already reported does not raise the bar), worked out alert by alert (causal)."""
    cooldown = max(1, int(s.cooldown_hours * 3600 / width))
    masked, alert, start = sup.copy(), np.zeros(len(sup), dtype=np.int64), 0
    while True:
        found = _alerts(sup, reference(masked, per_day, s), per_day, s, width)
        found[:start] = 0
        later = np.flatnonzero(found)
        if not len(later):
            return alert
        t = int(later[0])
        alert[t], start = 1, t + cooldown + 1
        masked[t : t + cooldown] = 0.0


def _bursts_every_day() -> np.ndarray:
    """The generated topic of test_a_topic_that_bursts_every_day_stops_paging_on_its_bursts."""
    t = np.arange(16 * 288)
    series = np.random.default_rng(5).poisson(40 * (1 + 0.6 * np.sin(2 * np.pi * t / 288)))
    series = series.astype(float)
    rng = np.random.default_rng(11)
    for day in range(16):
        at = day * 288 + int(rng.integers(0, 288 - 12))
        series[at : at + 12] += 200
    return series


def reference_variants(nab, data: Path) -> None:  # type: ignore[no-untyped-def]
    """Each reference variant on half A, injected stories, other categories, bursty topic."""
    labels = nab.load_windows()
    tweets = sorted(f"realTweets/{p.name}" for p in (data / "realTweets").glob("*.csv"))
    s = DEFAULT
    loader = Runs(nab, data)
    base_sup = {}
    for k in tweets:
        _, v, width, epoch0, _, _ = loader.load(k)
        base_sup[k] = series_module.VolumeState.fresh(v, width, 0, epoch0)
        series_module.fill(base_sup[k], s)
    # Injected stories as --diagnose builds them; the surprise before the story is the
    # series' own (causal), so only the buckets from the story on are worked out again.
    cases: dict[int, list] = {3: [], 5: []}  # type: ignore[type-arg]
    for size in (3, 5):
        for k in tweets:
            for vv, on, end, width, per_day, epoch0 in injected_stories(loader, k, labels[k], size):
                st = series_module.VolumeState.fresh(vv, width, 0, epoch0)
                b = base_sup[k]
                st.expected[:on], st.spread[:on], st.surprise[:on] = (
                    b.expected[:on],
                    b.spread[:on],
                    b.surprise[:on],
                )
                series_module.fill(st, s)
                cases[size].append((k, st.surprise.copy(), on, end, width, per_day))
    bursty = _bursts_every_day()
    bursty_sup = series_module.surprise(bursty, 300, s)[1]
    shipped = series_module.reference
    names = [*REFERENCE_VARIANTS, "reported events set aside"]
    print("\nreference variants (issue 15; standard profile; none shipped)")
    for name in names:
        aside = name == "reported events set aside"
        fn = shipped if aside else _variant_reference(REFERENCE_VARIANTS[name])

        def alerts_of(sup, per_day, width, fn=fn, aside=aside):  # type: ignore[no-untyped-def]
            if aside:
                return _alerts_reported_aside(sup, per_day, s, width)
            return _alerts(sup, fn(sup, per_day, s), per_day, s, width)

        series_module.reference = fn  # type: ignore[assignment]
        try:
            runs = Runs(nab, data)
            if aside:
                for k in tweets:
                    _, v, width, _, _, _ = runs.load(k)
                    runs.cache[k, s] = alerts_of(base_sup[k].surprise, round(86400 / width), width)
            half = runs.score(tweets, s)
            per = [runs.score([k], s)["normalized"] for k in tweets]
            loso = []
            if not aside:
                grid = [replace(s, memory_rank=r) for r in (1, 2, 3, 4)]
                for k in tweets:
                    rest = [x for x in tweets if x != k]
                    best = max(grid, key=lambda g: runs.score(rest, g)["normalized"])
                    loso.append(runs.score([k], best)["normalized"])
            recall = []
            for size in (3, 5):
                hits = {k.split("_")[-1][:-4]: 0 for k in tweets}
                for k, sup, on, end, width, per_day in cases[size]:
                    hits[k.split("_")[-1][:-4]] += int(alerts_of(sup, per_day, width)[on:end].any())
                recall.append(f"{sum(hits.values())}/{len(cases[size])} (AAPL {hits['AAPL']})")
            other = []
            if not aside:
                for cat in OTHER:
                    keys = sorted(f"{cat}/{p.name}" for p in (data / cat).glob("*.csv"))
                    other.append(
                        f"{cat[4:] if cat.startswith('real') else cat[:10]} {runs.score(keys, s)['normalized']:.1f}"
                    )
            late = [a for a in np.flatnonzero(alerts_of(bursty_sup, 288, 300)) if a >= 5 * 288]
        finally:
            series_module.reference = shipped  # type: ignore[assignment]
        print(
            f"  {name:34s}\n      half A {row(half)}; per file {np.mean(per):.1f} / {min(per):.1f}; "
            + (f"LOSO rank {np.mean(loso):.1f} / {min(loso):.1f}; " if loso else "")
            + f"injected 3x {recall[0]}, 5x {recall[1]}; "
            + (f"{', '.join(other)}; " if other else "")
            + f"bursty topic pages after day 5: {len(late)}"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "nab")
    ap.add_argument("--validate", action="store_true", help="also LOSO, plateau, other categories")
    ap.add_argument("--no-peer", action="store_true", help="skip luminol")
    ap.add_argument(
        "--diagnose", action="store_true", help="alerts and misses by cause, injected stories"
    )
    ap.add_argument(
        "--reference", action="store_true", help="the reference variants of issue 15 (not shipped)"
    )
    args = ap.parse_args()
    nab = load_scorer(args.shared)
    files = sorted((args.shared / "data" / "nab" / "data" / "realTweets").glob("*.csv"))
    if not files:
        print(f"no NAB files under {args.shared}", file=sys.stderr)
        return 2
    alerts, scores, peer_alerts, peer_scores = {}, {}, {}, {}
    points, seconds, peer_seconds = 0, 0.0, 0.0
    for f in files:
        out = args.out / f.name
        detect_series(f, out)
        df = pd.read_csv(out)
        key = f"realTweets/{f.name}"
        alerts[key] = df.assign(anomaly_score=df["alert"].astype(float))[
            ["timestamp", "value", "anomaly_score"]
        ]
        scores[key] = df[["timestamp", "value", "anomaly_score"]]
        _, values, width = read_series(f)
        v = np.array(values)
        ts = [str(x) for x in df["timestamp"]]
        if not args.no_peer:
            peer_alerts[key], peer_scores[key], took = luminol_frames(
                ts, [float(x) for x in values]
            )
            peer_seconds += took
        t0 = time.perf_counter()
        for _ in range(3):
            detect(v, width, DEFAULT, epoch0=pd.Timestamp(ts[0]).timestamp())
        seconds += (time.perf_counter() - t0) / 3
        points += len(v)
    fixed = nab.score(alerts, thresholds={p: 0.5 for p in nab.PROFILE_ORDER})
    swept = nab.score(scores)
    windows = sum(len(nab.load_windows()[k]) for k in alerts)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"files: {len(files)}, labelled windows: {windows}, alerts raised: "
        f"{int(sum(d['anomaly_score'].sum() for d in alerts.values()))}"
    )
    report(nab, fixed, swept, "default alert column", "swept anomaly_score", "at default")
    print(
        f"throughput: {points / seconds:,.0f} points/s ({points} points in {seconds:.2f} s, whole-series batch)"
    )
    if not args.no_peer:
        peer_fixed = nab.score(peer_alerts, thresholds={p: 0.5 for p in nab.PROFILE_ORDER})
        peer_swept = nab.score(peer_scores)
        print("\npeer, same run: luminol 0.4 (bitmap detector, default settings)")
        report(nab, peer_fixed, peer_swept, "its own anomalies", "swept score", "its own anomalies")
        print(f"throughput: {points / peer_seconds:,.0f} points/s")
    if args.validate:
        validate(nab, args.shared / "data" / "nab" / "data")
    if args.diagnose:
        diagnose(nab, args.shared / "data" / "nab" / "data")
    if args.reference:
        reference_variants(nab, args.shared / "data" / "nab" / "data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
