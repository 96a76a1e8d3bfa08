"""Amplifiers (crisis words, spread, news pickup), crisis vocabulary alone, silence vs broken
source, and the rule that watch-only signals never open an incident."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.incidents import SignalFact, decide
from worker.detection import evaluate
from worker.detection.core import DetectionSettings
from worker.model import Bucket, Mention

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 2
N = DAYS * 288  # 5-minute buckets


def quiet(count: int = 10) -> list[Bucket]:
    return [
        Bucket(T0 + timedelta(minutes=5 * i), count=count, negative=1, authors=count, texts=count)
        for i in range(N)
    ]


def ending(series: list[Bucket], last: Bucket) -> list[Bucket]:
    """The series with its last six buckets (the 30-minute window) replaced by `last`."""
    return series[:-6] + [replace(last, start=b.start) for b in series[-6:]]


def now_of(series: list[Bucket]) -> datetime:
    return series[-1].start + timedelta(minutes=5)


def total(*platforms: list[Bucket]) -> list[Bucket]:
    out = []
    for rows in zip(*platforms, strict=True):
        out.append(
            Bucket(
                rows[0].start,
                count=sum(b.count for b in rows),
                negative=sum(b.negative for b in rows),
                authors=sum(b.authors for b in rows),
                crisis_terms=sum(b.crisis_terms for b in rows),
                texts=sum(b.texts for b in rows),
            )
        )
    return out


def posts(text: str, k: int, at: datetime) -> list[Mention]:
    return [
        Mention(
            platform="bluesky",
            id=f"p{i}",
            created_at=at - timedelta(minutes=1 + i % 25),
            text=text,
            author=f"a{i}",
            extra={"label": "neg"},
        )
        for i in range(k)
    ]


def test_crisis_words_and_news_pickup_raise_severity_and_say_why() -> None:
    spike = Bucket(T0, count=40, negative=30, authors=40, texts=40)
    social = ending(quiet(), spike)
    news = ending(quiet(0), Bucket(T0, count=3, authors=3, texts=3))
    plain = evaluate("acme", social, now_of(social), DetectionSettings())
    base = next(s for s in plain if s.kind == "volume_spike")

    with_words = ending(total(quiet(), quiet(0)), replace(spike, count=43, crisis_terms=30))
    mentions = posts("Acme product recall, I want a refund", 30, now_of(social))
    got = evaluate(
        "acme",
        with_words,
        now_of(social),
        DetectionSettings(),
        per_platform={"bluesky": social, "rss": news},
        recent_mentions=mentions,
    )
    vol = next(s for s in got if s.kind == "volume_spike")
    assert vol.severity == max(1, base.severity - 2)  # two amplifiers: at most two levels
    assert "crisis words up (“recall” ×30, “refund” ×30" in vol.explanation
    assert "rising on 2 platforms (bluesky, rss)" in vol.explanation
    assert "picked up by the news (rss)" in vol.explanation
    assert vol.evidence.details["severity_before_amplifiers"] == base.severity
    assert "crisis_terms" not in {s.kind for s in got}  # an amplifier, not a second page


def test_crisis_words_alone_are_a_signal_but_a_few_are_not() -> None:
    series = ending(quiet(), Bucket(T0, count=10, negative=1, authors=10, texts=10, crisis_terms=3))
    now = now_of(series)
    got = evaluate(
        "acme", series, now, DetectionSettings(), recent_mentions=posts("boycott", 18, now)
    )
    crisis = [s for s in got if s.kind == "crisis_terms"]
    assert len(crisis) == 1 and "“boycott” ×18" in crisis[0].explanation
    assert crisis[0].evidence.observed == 18.0
    few = ending(quiet(), Bucket(T0, count=10, authors=10, texts=10, crisis_terms=1))
    assert not evaluate(
        "acme", few, now, DetectionSettings(), recent_mentions=posts("boycott", 4, now)
    )


def test_silence_is_told_apart_from_a_broken_source() -> None:
    talking = quiet(20)
    silent = ending(quiet(20), Bucket(T0))
    series = total(talking, silent)
    now = now_of(series)
    kw = {"per_platform": {"bluesky": talking, "rss": silent}}
    healthy = evaluate("acme", series, now, DetectionSettings(), source_health={"rss": True}, **kw)
    assert [s.kind for s in healthy] == ["silence"]
    assert "No mentions of acme on rss (120–120 usual)" in healthy[0].explanation
    assert "stopped talking" in healthy[0].explanation
    broken = evaluate("acme", series, now, DetectionSettings(), source_health={"rss": False}, **kw)
    assert [s.kind for s in broken] == ["source_down"]
    assert "broken feed, not a quiet topic" in broken[0].explanation
    # A platform that is often quiet anyway going silent says nothing.
    sparse = ending(quiet(1), Bucket(T0))  # 6 posts a window usually: P(0) = e^-6, not rare
    assert not evaluate(
        "acme",
        total(talking, sparse),
        now,
        DetectionSettings(),
        per_platform={"bluesky": talking, "rss": sparse},
    )


def test_watch_signals_never_open_an_incident_but_join_an_open_one() -> None:
    at = T0
    watch = [SignalFact("silence", 4, 0.0, at), SignalFact("source_down", 4, 0.0, at)]
    assert decide(None, watch).action == "none"
    opened = decide(None, [*watch, SignalFact("volume_spike", 2, 80.0, at)])
    assert (opened.action, opened.severity, opened.peak) == ("open", 2, 80.0)
    assert set(opened.kinds) == {"silence", "source_down", "volume_spike"}


def test_the_explanation_quotes_the_usual_and_its_band() -> None:
    spike = Bucket(T0, count=60, negative=45, authors=60, texts=60)
    series = ending(quiet(10), spike)
    got = evaluate("acme", series, now_of(series), DetectionSettings())
    (volume,) = [s for s in got if s.kind == "volume_spike"]
    text = volume.explanation
    assert text.startswith("Mentions of acme: ")
    start = volume.evidence.window_start
    # The hour is the most surprising window; the day and time quoted are that window's start.
    assert volume.evidence.details["window_minutes"] == 60 and "420 in the last hour," in text
    assert start == now_of(series) - timedelta(hours=1)
    assert f"× the usual for a {start:%A} at {start:%H:%M} UTC" in text and "at least" not in text
    low, high = volume.evidence.band_low, volume.evidence.band_high
    assert f"(expected {low:.0f}–{high:.0f})" in text
    assert low <= volume.evidence.expected <= high < volume.evidence.observed
    assert "75% negative vs 10% usually" in text
    # The negative surge of the same evaluation quotes its own window, the last 30 minutes.
    (surge,) = [s for s in got if s.kind == "negative_surge"]
    half_hour = now_of(series) - timedelta(minutes=30)
    assert f"usually for a {half_hour:%A} at {half_hour:%H:%M} UTC" in surge.explanation
    # The team's time zone changes what is quoted, never what is decided.
    paris = evaluate("acme", series, now_of(series), DetectionSettings(), tz="Europe/Paris")
    (local,) = [s for s in paris if s.kind == "volume_spike"]
    assert "× the usual for a Wednesday at 00:00 CET" in local.explanation  # Tuesday 23:00 UTC
    assert (local.severity, local.score, local.evidence) == (
        volume.severity,
        volume.score,
        volume.evidence,
    )


def test_on_a_quiet_topic_the_ratio_is_a_lower_bound_and_says_so() -> None:
    # One author every other bucket: every bucket is judged against the floor (3 per 5 minutes),
    # which is not "the usual", so the explanation must not quote it as such.
    sparse = [
        replace(b, count=i % 2, authors=i % 2, texts=i % 2, negative=0)
        for i, b in enumerate(quiet())
    ]
    series = ending(sparse, Bucket(T0, count=25, negative=20, authors=25, texts=25))
    (volume,) = [
        s
        for s in evaluate("acme", series, now_of(series), DetectionSettings())
        if s.kind == "volume_spike"
    ]
    assert "at least" in volume.explanation and "(usually under " in volume.explanation
    assert "expected" not in volume.explanation
