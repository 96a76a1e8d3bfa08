"""What the live detectors are told: `DetectionSettings`, the sensitivity presets and the
built-in crisis vocabulary (English and French)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property

from worker.detection import series

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
    def longest_window_minutes(self) -> int:
        """The longest stretch any detector looks back over: the volume detector's windows and
        the other detectors' window (what an evaluation reads recent mentions for, and how long
        a topic stays worth evaluating after its last mention)."""
        return max((*self.series_settings.windows_minutes, self.window_minutes))

    @cached_property
    def series_settings(self) -> series.SeriesSettings:
        """The volume detector's settings (everything else as measured on NAB); worked out once
        per settings object (every evaluation reads them several times)."""
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
