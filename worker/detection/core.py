"""Detectors over a topic's bucket series: pure functions, time is an argument.

1. The window is the last `window_minutes` of completed buckets.
2. Its baseline is the same window at the same time of day on earlier days (hour-of-week once two
   weeks of history exist), summarised by the median — robust to earlier spikes — and never below
   `min_expected`, so a quiet topic is judged against a floor, not against zero.
3. Counts are judged with a Poisson tail whose mean is inflated by the observed day-to-day spread
   (a negative-binomial-like allowance), not with z-scores: "3 posts where 0.5 are usual" has a
   small p-value but fails `min_count`, so it does not page.
4. Volume counts distinct authors, so one person posting 40 times counts once.
5. A negative surge needs both more negative posts than usual and a higher negative share.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

from scipy.stats import poisson

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
    #: One-sided tail probability below which a window is abnormal.
    alpha: float = 1e-4
    #: Fewest distinct authors in the window for a volume spike (low-volume topics do not page).
    min_count: int = 12
    #: Observed must also be at least this multiple of the expected value.
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
    crisis_terms: tuple[str, ...] = CRISIS_TERMS_EN + CRISIS_TERMS_FR
    extra_crisis_terms: tuple[str, ...] = field(default=())

    @property
    def all_crisis_terms(self) -> tuple[str, ...]:
        return self.crisis_terms + self.extra_crisis_terms


PRESETS: dict[str, dict[str, float]] = {
    "fewer": {"alpha": 1e-6, "min_count": 20, "min_ratio": 3.5, "min_negative": 12},
    "balanced": {},
    "more": {"alpha": 1e-3, "min_count": 8, "min_ratio": 2.0, "min_negative": 5},
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
    neg_share: float
    label: str


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
        sums.append(float(sum(_effective(x) if value == "volume" else x.negative for x in window)))
        k += 1
    if not sums:
        # Less than a day of history: the mean of every earlier window-sized slice.
        prior = buckets[: end - n]
        total = sum(_effective(x) if value == "volume" else x.negative for x in prior)
        mean = total * n / max(1, len(prior))
        sums = [mean]
    sums.sort()
    med = (
        sums[len(sums) // 2]
        if len(sums) % 2
        else (sums[len(sums) // 2 - 1] + sums[len(sums) // 2]) / 2
    )
    q1, q3 = sums[len(sums) // 4], sums[(3 * len(sums)) // 4]
    history = buckets[: end - n][-per_week:]
    total = sum(_texts(x) for x in history)
    share = sum(x.negative for x in history) / total if total else 0.0
    return _Baseline(max(med, s.min_expected), q1, max(q3, med), max(0.0, q3 - q1), share, label)


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
) -> list[Signal]:
    """Judge the latest window of `buckets` (ascending, contiguous, completed) and return signals."""
    s = settings
    n = max(1, s.window_minutes * 60 // s.bucket_seconds)
    if len(buckets) < n + 1:
        return []
    window = buckets[-n:]
    start = window[0].start
    end = window[-1].start + timedelta(seconds=s.bucket_seconds)
    in_window = [m for m in recent_mentions if start <= m.created_at < end]
    count = sum(b.count for b in window)
    authors = sum(_effective(b) for b in window)
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

    vol = _baseline(buckets, n, "volume", s)
    p_vol = _tail(authors, vol.expected, vol.spread)
    ratio = authors / vol.expected
    tags = _hashtags(in_window)
    when = f"{start:%A} at {start:%H:%M} UTC"
    led = f"; led by {', '.join(tags)}" if tags else ""
    warmed_up = (len(buckets) - n) * s.bucket_seconds >= s.warmup_hours * 3600
    if warmed_up and authors >= s.min_count and ratio >= s.min_ratio and p_vol <= s.alpha:
        text = (
            f"Mentions of {topic}: {count} in the last {s.window_minutes} minutes, "
            f"{ratio:.1f}× the usual for a {when} (expected {vol.low:.0f}–{vol.high:.0f}); "
            f"{share:.0%} negative vs {vol.neg_share:.0%} usually; {authors} distinct authors{led}"
            f"{storm_note}."
        )
        signals.append(
            Signal(
                topic,
                "volume_spike",
                end,
                round(1 - p_vol, 6),
                _severity(ratio, share, count),
                text,
                Evidence(
                    start,
                    end,
                    authors,
                    vol.expected,
                    vol.low,
                    vol.high,
                    1 - p_vol,
                    {
                        "count": count,
                        "negative": negative,
                        "negative_share": share,
                        "baseline_negative_share": vol.neg_share,
                        "baseline_by": vol.label,
                        "hashtags": tags,
                        "distinct_texts": texts,
                        "copies": copies,
                    },
                ),
                _top(in_window),
            )
        )

    neg = _baseline(buckets, n, "negative", s)
    p_neg = _tail(negative, max(neg.expected, s.min_expected / 2), neg.spread)
    if (
        warmed_up
        and negative >= s.min_negative
        and p_neg <= s.alpha
        and share >= vol.neg_share + s.min_share_rise
    ):
        ratio_neg = negative / max(neg.expected, s.min_expected / 2)
        text = (
            f"Negative mentions of {topic}: {negative} in the last {s.window_minutes} minutes "
            f"({share:.0%} of {texts} distinct texts) vs {vol.neg_share:.0%} usually for a {when}"
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
                        "baseline_negative_share": vol.neg_share,
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
    return signals
