"""Detectors over a topic's bucket series: pure functions, time is an argument.

1. **Volume** is the series detector of `series.py` — the one NAB measures — run on distinct
   authors per bucket (one person posting 40 times counts once): the count of the last 15
   minutes, hour or three hours against the sum of its buckets' expected counts (seasonal median
   raised by the recent trend), judged with a negative-binomial tail, and paged only when it is
   more surprising than the topic's reference day (the second most surprising day of the last
   two weeks) and holds at least `min_count` authors, so low-volume topics do not page on 3
   posts. The pipeline keeps each bucket's expected count, spread and surprise (`VolumeState`),
   so judging the newest bucket is a few lookups.
2. The other counts (negative texts, crisis words, per platform) are judged over the last
   `window_minutes` against the same window on earlier days (hour-of-week once two weeks exist),
   summarised by the median and never below `min_expected`, with a Poisson tail whose mean
   allows for the usual day-to-day spread — count statistics, not z-scores.
3. A negative surge needs both more negative texts than usual and a higher negative share.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

import numpy as np
from scipy.stats import poisson

from worker.detection import series
from worker.localtime import show
from worker.model import Bucket, Evidence, Mention, Signal

CRISIS_TERMS_EN = (
    "boycott",
    "lawsuit",
    "sue",
    "breach",
    "hacked",
    "leak",
    "leaked",
    "recall",
    "outage",
    "down",
    "scam",
    "fraud",
    "fire",
    "injured",
    "dangerous",
    "refund",
    "class action",
    "strike",
)
CRISIS_TERMS_FR = (
    "boycott",
    "boycotter",
    "arnaque",
    "rappel",
    "grève",
    "panne",
    "fuite",
    "piratage",
    "plainte",
    "procès",
    "escroquerie",
    "dangereux",
    "dangereuse",
    "remboursement",
    "scandale",
)


@dataclass(frozen=True)
class DetectionSettings:
    bucket_seconds: int = 300
    window_minutes: int = 30
    #: One-sided tail probability below which a window is abnormal (negative, crisis words).
    alpha: float = 1e-4
    #: Fewest distinct authors in the volume window for a volume spike (low-volume topics do
    #: not page).
    min_count: int = 12
    #: Volume: the reference is the `memory_rank`-th most surprising day of the last
    #: `memory_days`; a bucket pages at `alert_score` (0.5 = as surprising as that day), and
    #: never below a surprise of `min_surprise` (−log10 of the tail probability).
    memory_days: int = series.DEFAULT.memory_days
    memory_rank: int = series.DEFAULT.memory_rank
    min_surprise: float = series.DEFAULT.min_surprise
    alert_score: float = series.DEFAULT.alert_score
    #: Negative surge and per-platform rise: observed must be at least this multiple of usual.
    min_ratio: float = 2.5
    #: Floor for the expected count of a window.
    min_expected: float = 2.0
    #: Negative surge: fewest negative posts, and the rise of the negative share required.
    min_negative: int = 8
    min_share_rise: float = 0.15
    #: A single negative post from an author with at least this many followers is its own signal.
    high_reach_followers: int = 500_000
    #: Volume and negative-surge signals wait for this much history: with less than a day there
    #: is no "usual for this time of day" to compare with, and a first morning is not a crisis.
    warmup_hours: float = 24.0
    #: Crisis vocabulary: fewest term hits in the window for it to count as risen (with `alpha`).
    min_crisis_terms: int = 5
    #: A platform that goes silent is reported only if even its quiet days (lower quartile) bring
    #: at least this many posts in a window: P(0 posts) is then below e^-10.
    silence_min_expected: float = 10.0
    #: A platform counts as "rising" for the spread amplifier at this many posts in the window
    #: and `min_ratio` × its usual.
    spread_min_count: int = 3
    crisis_terms: tuple[str, ...] = CRISIS_TERMS_EN + CRISIS_TERMS_FR
    extra_crisis_terms: tuple[str, ...] = field(default=())

    @property
    def all_crisis_terms(self) -> tuple[str, ...]:
        return self.crisis_terms + self.extra_crisis_terms

    @property
    def series_settings(self) -> series.SeriesSettings:
        """The volume detector's settings (everything else as measured on NAB)."""
        return replace(
            series.DEFAULT,
            memory_days=self.memory_days,
            memory_rank=self.memory_rank,
            min_surprise=self.min_surprise,
            alert_score=self.alert_score,
            warmup_days=self.warmup_hours / 24,
        )


#: Sensitivity presets. Volume: "fewer" compares with the *most* surprising day of the last two
#: weeks, "more" with the third (NAB realTweets half A: 72.9 / 83.5 / 79.2 standard score,
#: 10 / 14 / 30 false-positive rows, docs/benchmarks.md).
PRESETS: dict[str, dict[str, float]] = {
    "fewer": {
        "alpha": 1e-6,
        "min_count": 20,
        "min_ratio": 3.5,
        "min_negative": 12,
        "memory_rank": 1,
    },
    "balanced": {},
    "more": {"alpha": 1e-3, "min_count": 8, "min_ratio": 2.0, "min_negative": 5, "memory_rank": 3},
}


def settings_for(preset: str = "balanced", **overrides: object) -> DetectionSettings:
    """Settings from a sensitivity preset plus explicit thresholds (unknown names are errors)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown sensitivity {preset!r} (expected {', '.join(PRESETS)})")
    names = {f.name for f in fields(DetectionSettings)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown threshold {unknown[0]!r} (known: {', '.join(sorted(names))})")
    values: dict[str, object] = {**PRESETS[preset], **overrides}
    if "extra_crisis_terms" in values:
        values["extra_crisis_terms"] = tuple(values["extra_crisis_terms"])  # type: ignore[arg-type]
    return replace(DetectionSettings(), **values)  # type: ignore[arg-type]


def volume_values(buckets: Sequence[Bucket]) -> np.ndarray:
    """The series the volume detector judges: distinct authors per bucket (else posts)."""
    return np.fromiter((_effective(b) for b in buckets), dtype=np.float64, count=len(buckets))


def volume_state(buckets: Sequence[Bucket], bucket_seconds: int) -> series.VolumeState:
    """A fresh `VolumeState` for `buckets` (nothing known yet: `series.fill` works it all out)."""
    phase = series.phase_of(buckets[0].start.timestamp(), bucket_seconds) if buckets else 0
    return series.VolumeState.fresh(volume_values(buckets), bucket_seconds, phase)


def _texts(b: Bucket) -> int:
    """Distinct texts where known (a retweet storm counts once for sentiment), else the count."""
    return b.texts if b.texts else b.count


def _effective(b: Bucket) -> int:
    """Distinct authors where known (one author posting 40 times counts once), else the count."""
    return b.authors if b.authors else b.count


@dataclass(frozen=True)
class _Baseline:
    expected: float
    low: float
    high: float
    spread: float
    label: str


def _value(b: Bucket, value: str) -> int:
    if value == "volume":
        return _effective(b)
    if value == "negative":
        return b.negative
    if value == "crisis":
        return b.crisis_terms
    return b.count


def _baseline(buckets: Sequence[Bucket], n: int, value: str, s: DetectionSettings) -> _Baseline:
    """Median of the same window on earlier days (or weeks), with a band from the quartiles."""
    per_day = 86_400 // s.bucket_seconds
    per_week = per_day * 7
    end = len(buckets)
    period, label = (per_week, "week") if end - n >= 2 * per_week else (per_day, "day")
    sums: list[float] = []
    k = 1
    while end - n - k * period >= 0 and k <= 8:
        a, b = end - n - k * period, end - k * period
        window = buckets[a:b]
        sums.append(float(sum(_value(x, value) for x in window)))
        k += 1
    if not sums:
        # Less than a day of history: the mean of every earlier window-sized slice.
        prior = buckets[: end - n]
        total = sum(_value(x, value) for x in prior)
        mean = total * n / max(1, len(prior))
        sums = [mean]
    sums.sort()
    med = (
        sums[len(sums) // 2]
        if len(sums) % 2
        else (sums[len(sums) // 2 - 1] + sums[len(sums) // 2]) / 2
    )
    q1, q3 = sums[len(sums) // 4], sums[(3 * len(sums)) // 4]
    return _Baseline(max(med, s.min_expected), q1, max(q3, med), max(0.0, q3 - q1), label)


def _usual_negative_share(buckets: Sequence[Bucket], n: int, s: DetectionSettings) -> float:
    """Negative texts / distinct texts over the week before the window.

    With buckets narrower than 5 minutes, every k-th bucket of the week is read (at most 2,016,
    a week of 5-minute buckets): an unbiased estimate that keeps one evaluation under 1 ms.
    """
    per_week = 7 * 86_400 // s.bucket_seconds
    step = max(1, per_week // 2016)
    end = len(buckets) - n
    total = negative = 0
    for i in range(max(0, end - per_week), end, step):
        x = buckets[i]
        total += x.texts or x.count
        negative += x.negative
    return negative / total if total else 0.0


def _tail(observed: float, expected: float, spread: float) -> float:
    """P(X ≥ observed) for a Poisson whose mean allows for the usual day-to-day spread."""
    lam = expected + spread
    return float(poisson.sf(math.ceil(observed) - 1, lam))


def _hashtags(mentions: Sequence[Mention]) -> list[str]:
    import re

    tags: Counter[str] = Counter()
    for m in mentions:
        tags.update({t.lower() for t in re.findall(r"#\w+", m.text)})
    return [t for t, c in tags.most_common(3) if c >= 3]


def _top(mentions: Sequence[Mention], negative_only: bool = False, k: int = 5) -> tuple[str, ...]:
    pool = [m for m in mentions if not negative_only or m.extra.get("label") == "neg"]
    pool.sort(key=lambda m: (m.author_followers or 0) + 10 * m.engagement, reverse=True)
    return tuple(m.id for m in pool[:k])


def _severity(ratio: float, neg_share: float, observed: float) -> int:
    """SEV1 (worst) … SEV4 from the size of the rise and how negative it is (docs/detection.md)."""
    if ratio >= 10 and neg_share >= 0.6 and observed >= 200:
        return 1
    if ratio >= 5 and neg_share >= 0.5:
        return 2
    if ratio >= 3 or neg_share >= 0.5:
        return 3
    return 4


def evaluate(
    topic: str,
    buckets: Sequence[Bucket],
    now: datetime,
    settings: DetectionSettings,
    *,
    per_platform: Mapping[str, Sequence[Bucket]] | None = None,
    recent_mentions: Sequence[Mention] = (),
    source_health: Mapping[str, bool] | None = None,
    volume: series.VolumeState | None = None,
    tz: str = "UTC",
) -> list[Signal]:
    """Judge the latest window of `buckets` (ascending, contiguous, completed) and return signals.

    `tz` is the zone the explanations quote times in (`[tocsin] timezone`); it changes no decision.

    `volume` is the volume detector's state for the same buckets (the pipeline keeps it); without
    it the whole history is worked out here, which is exact but costs a pass over the buckets.
    """
    s = settings
    n = max(1, s.window_minutes * 60 // s.bucket_seconds)
    if len(buckets) < n + 1:
        return []
    window = buckets[-n:]
    start = window[0].start
    end = window[-1].start + timedelta(seconds=s.bucket_seconds)
    in_window = [m for m in recent_mentions if start <= m.created_at < end]
    count = sum(b.count for b in window)
    negative = sum(b.negative for b in window)
    texts = sum(_texts(b) for b in window)
    # Sentiment share over distinct texts: 300 retweets of one angry post are one negative text.
    share = negative / texts if texts else 0.0
    copies = sum(b.copies for b in window)
    storm = copies >= max(10, count // 3)
    storm_note = (
        f"; {copies} of the {count} posts repeat an earlier text (retweet or copy-paste storm, "
        "counted once for sentiment)"
        if storm
        else ""
    )
    signals: list[Signal] = []

    if volume is None or len(volume.values) != len(buckets):
        volume = volume_state(buckets, s.bucket_seconds)
    judged, _ = series.judge(volume, s.series_settings)
    usual_share = _usual_negative_share(buckets, n, s)
    ratio = judged.window_observed / max(judged.window_expected, 1e-9)
    tags = _hashtags(in_window)
    when = show(start, tz, "%A at %H:%M")
    led = f"; led by {', '.join(tags)}" if tags else ""
    warmed_up = (len(buckets) - n) * s.bucket_seconds >= s.warmup_hours * 3600
    if warmed_up and judged.score >= s.alert_score and judged.window_observed >= s.min_count:
        k = judged.window_buckets
        vol_window = buckets[-k:]
        vol_start = vol_window[0].start
        posts = sum(b.count for b in vol_window)
        authors_k = int(judged.window_observed)
        low, high = judged.band()
        span = (
            f"{judged.window_minutes} minutes"
            if judged.window_minutes < 60
            else ("hour" if judged.window_minutes == 60 else f"{judged.window_minutes // 60} hours")
        )
        # On a quiet topic every bucket is judged against the floor of the expected count, so
        # the ratio is a lower bound: say so rather than quote the floor as "the usual".
        floor = k * series.min_expected(s.bucket_seconds, s.series_settings)
        vol_when = show(vol_start, tz, "%A at %H:%M")  # the start of the window quoted
        usual = (
            f"at least {ratio:.1f}× the usual for a {vol_when} (usually under {floor:.0f})"
            if judged.window_expected <= floor * (1 + 1e-9)
            else f"{ratio:.1f}× the usual for a {vol_when} (expected {low:.0f}–{high:.0f})"
        )
        text = (
            f"Mentions of {topic}: {posts} in the last {span}, {usual}; "
            f"{share:.0%} negative vs {usual_share:.0%} usually; {authors_k} distinct authors{led}"
            f"{storm_note}."
        )
        signals.append(
            Signal(
                topic,
                "volume_spike",
                end,
                round(judged.score, 6),
                _severity(ratio, share, posts),
                text,
                Evidence(
                    vol_start,
                    end,
                    judged.window_observed,
                    judged.window_expected,
                    low,
                    high,
                    1 - judged.p_value,
                    {
                        "count": posts,
                        "negative": negative,
                        "negative_share": share,
                        "baseline_negative_share": usual_share,
                        "baseline_by": "time of day over the last two weeks, raised by the trend",
                        "surprise": round(judged.surprise, 3),
                        "reference_surprise": round(judged.reference, 3),
                        "window_minutes": judged.window_minutes,
                        "hashtags": tags,
                        "distinct_texts": texts,
                        "copies": copies,
                    },
                ),
                _top([m for m in recent_mentions if vol_start <= m.created_at < end]),
            )
        )

    neg = _baseline(buckets, n, "negative", s)
    p_neg = _tail(negative, max(neg.expected, s.min_expected / 2), neg.spread)
    if (
        warmed_up
        and negative >= s.min_negative
        and p_neg <= s.alpha
        and share >= usual_share + s.min_share_rise
    ):
        ratio_neg = negative / max(neg.expected, s.min_expected / 2)
        text = (
            f"Negative mentions of {topic}: {negative} in the last {s.window_minutes} minutes "
            f"({share:.0%} of {texts} distinct texts) vs {usual_share:.0%} usually for a {when}"
            f"; {ratio_neg:.1f}× the usual negative count{led}{storm_note}."
        )
        signals.append(
            Signal(
                topic,
                "negative_surge",
                end,
                round(1 - p_neg, 6),
                _severity(max(ratio, ratio_neg / 2), share, count),
                text,
                Evidence(
                    start,
                    end,
                    negative,
                    neg.expected,
                    neg.low,
                    neg.high,
                    1 - p_neg,
                    {
                        "count": count,
                        "negative_share": share,
                        "baseline_negative_share": usual_share,
                        "hashtags": tags,
                        "distinct_texts": texts,
                        "copies": copies,
                    },
                ),
                _top(in_window, negative_only=True),
            )
        )

    for m in in_window:
        if m.extra.get("label") == "neg" and (m.author_followers or 0) >= s.high_reach_followers:
            text = (
                f"A negative post about {topic} from {m.author or 'an account'} "
                f"({m.author_followers:,} followers) on {m.platform}."
            )
            signals.append(
                Signal(
                    topic,
                    "high_reach_post",
                    end,
                    0.9,
                    3,
                    text,
                    Evidence(
                        start,
                        end,
                        float(m.author_followers or 0),
                        0,
                        0,
                        float(s.high_reach_followers),
                        0.9,
                        {"mention": m.id, "url": m.url},
                    ),
                    (m.id,),
                )
            )
            break
    signals = _amplify(
        topic, signals, buckets, n, s, warmed_up, in_window, per_platform, start, end
    )
    signals += _silence(topic, buckets, n, s, warmed_up, per_platform, source_health, start, end)
    return signals


#: Platforms that are news, not social posts: a rise there is "news pickup".
NEWS_PLATFORMS = frozenset({"rss", "news"})
#: Signal kinds that describe the watch itself rather than a crisis: they never open an incident.
WATCH_KINDS = frozenset({"silence", "source_down"})


def _crisis_words(mentions: Sequence[Mention], terms: Sequence[str]) -> list[tuple[str, int]]:
    import re

    found: Counter[str] = Counter()
    for term in dict.fromkeys(t.lower() for t in terms):  # EN and FR share "boycott"
        pattern = re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)
        hits = sum(1 for m in mentions if pattern.search(m.text))
        if hits:
            found[term.lower()] += hits
    return found.most_common(3)


def _rising_platforms(
    per_platform: Mapping[str, Sequence[Bucket]] | None, n: int, s: DetectionSettings
) -> list[str]:
    rising = []
    for platform, plat in sorted((per_platform or {}).items()):
        if len(plat) < n + 1:
            continue
        observed = sum(b.count for b in plat[-n:])
        usual = _baseline(plat, n, "count", s).expected
        if observed >= s.spread_min_count and observed >= s.min_ratio * usual:
            rising.append(platform)
    return rising


def _amplify(
    topic: str,
    signals: list[Signal],
    buckets: Sequence[Bucket],
    n: int,
    s: DetectionSettings,
    warmed_up: bool,
    in_window: Sequence[Mention],
    per_platform: Mapping[str, Sequence[Bucket]] | None,
    start: datetime,
    end: datetime,
) -> list[Signal]:
    """Crisis vocabulary, spread across platforms and news pickup each raise the severity of a
    volume or negative signal by one level (two at most, never past SEV1) and say so; crisis
    vocabulary that rose on its own is a `crisis_terms` signal (docs/detection.md)."""
    crisis = sum(b.crisis_terms for b in buckets[-n:])
    base = _baseline(buckets, n, "crisis", s)
    p_crisis = _tail(crisis, base.expected, base.spread)
    crisis_rose = warmed_up and crisis >= s.min_crisis_terms and p_crisis <= s.alpha
    words = _crisis_words(in_window, s.all_crisis_terms) if crisis_rose else []
    rising = _rising_platforms(per_platform, n, s)
    news = [p for p in rising if p in NEWS_PLATFORMS]
    notes, bump = [], 0
    if crisis_rose:
        listed = ", ".join(f"“{w}” ×{k}" for w, k in words) or f"{crisis} hits"
        notes.append(f"crisis words up ({listed}; {base.expected:.0f} usual)")
        bump += 1
    if len(rising) >= 2:
        notes.append(f"rising on {len(rising)} platforms ({', '.join(rising)})")
        bump += 1
    if news:
        notes.append(f"picked up by the news ({', '.join(news)})")
        bump += 1
    bump = min(bump, 2)
    out: list[Signal] = []
    for sig in signals:
        if sig.kind in ("volume_spike", "negative_surge") and notes:
            details = dict(sig.evidence.details)
            details["amplifiers"] = notes
            details["severity_before_amplifiers"] = sig.severity
            sig = replace(
                sig,
                severity=max(1, sig.severity - bump),
                explanation=sig.explanation.rstrip(".") + "; " + "; ".join(notes) + ".",
                evidence=replace(sig.evidence, details=details),
            )
        out.append(sig)
    if crisis_rose and not any(x.kind in ("volume_spike", "negative_surge") for x in out):
        listed = ", ".join(f"“{w}” ×{k}" for w, k in words) or "crisis vocabulary"
        out.append(
            Signal(
                topic,
                "crisis_terms",
                end,
                round(1 - p_crisis, 6),
                3,
                f"Crisis words in mentions of {topic}: {crisis} in the last {s.window_minutes} "
                f"minutes where {base.expected:.0f} are usual ({listed}).",
                Evidence(
                    start,
                    end,
                    float(crisis),
                    base.expected,
                    base.low,
                    base.high,
                    1 - p_crisis,
                    {"terms": dict(words), "rising_platforms": rising},
                ),
                _top([m for m in in_window if any(w in m.text.lower() for w, _ in words)]),
            )
        )
    return out


def _silence(
    topic: str,
    buckets: Sequence[Bucket],
    n: int,
    s: DetectionSettings,
    warmed_up: bool,
    per_platform: Mapping[str, Sequence[Bucket]] | None,
    source_health: Mapping[str, bool] | None,
    start: datetime,
    end: datetime,
) -> list[Signal]:
    """A platform that usually talks about the topic and went quiet: `source_down` when its
    source is failing (a broken feed is not silence), else `silence` (nobody is talking)."""
    if not warmed_up:
        return []
    health = source_health or {}
    quiet: dict[str, list[tuple[str, _Baseline]]] = {"silence": [], "source_down": []}
    series_by = dict(per_platform or {})
    # Platforms whose source exists but brought nothing at all have no series: judge them too.
    for platform in health:
        series_by.setdefault(platform, [])
    for platform, plat in sorted(series_by.items()):
        if len(plat) < n + 1:
            if health.get(platform) is False and sum(b.count for b in buckets[-n:]) == 0:
                quiet["source_down"].append((platform, _baseline(buckets, n, "count", s)))
            continue
        if sum(b.count for b in plat[-n:]):
            continue
        usual = _baseline(plat, n, "count", s)
        if usual.low < s.silence_min_expected:
            continue
        kind = "source_down" if health.get(platform) is False else "silence"
        quiet[kind].append((platform, usual))
    out = []
    for kind, items in quiet.items():
        if not items:
            continue
        where = ", ".join(f"{p} ({b.low:.0f}–{b.high:.0f} usual)" for p, b in items)
        if kind == "source_down":
            text = (
                f"No mentions of {topic} from {where} in the last {s.window_minutes} minutes, "
                "and the source is failing: this is a broken feed, not a quiet topic."
            )
        else:
            text = (
                f"No mentions of {topic} on {where} in the last {s.window_minutes} minutes, "
                "although the source answers: people have stopped talking about it there."
            )
        expected = sum(b.expected for _, b in items)
        out.append(
            Signal(
                topic,
                kind,
                end,
                0.99,
                4,
                text,
                Evidence(
                    start,
                    end,
                    0.0,
                    expected,
                    sum(b.low for _, b in items),
                    sum(b.high for _, b in items),
                    0.99,
                    {"platforms": [p for p, _ in items]},
                ),
            )
        )
    return out
