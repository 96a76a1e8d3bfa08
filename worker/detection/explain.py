"""The sentences a briefing packet quotes, one function per signal kind.

The detectors decide; this module only says what they found, in words an executive can read on
a phone. Times are quoted in the team's zone (`tz`), which changes no decision. Mention text
reaches these sentences only as hashtags, crisis words (matched patterns) and an author's name:
plain text, escaped by whatever renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from worker.localtime import show


def when(at: datetime, tz: str) -> str:
    return show(at, tz, "%A at %H:%M")


def span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} minutes"
    return "hour" if minutes == 60 else f"{minutes // 60} hours"


def led_by(tags: Sequence[str]) -> str:
    return f"; led by {', '.join(tags)}" if tags else ""


def storm_note(copies: int, count: int, storm: bool) -> str:
    if not storm:
        return ""
    return (
        f"; {copies} of the {count} posts repeat an earlier text (retweet or copy-paste storm, "
        "counted once for sentiment)"
    )


def followers(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"


def volume_spike(
    topic: str,
    *,
    posts: int,
    minutes: int,
    ratio: float,
    start: datetime,
    tz: str,
    at_floor: bool,
    floor: float,
    low: float,
    high: float,
    share: float,
    usual_share: float,
    authors: int,
    tags: Sequence[str],
    storm: str,
    tone: str,
) -> str:
    # On a quiet topic every bucket is judged against the floor of the expected count, so the
    # ratio is a lower bound: say so rather than quote the floor as "the usual".
    usual = (
        f"at least {ratio:.1f}× the usual for a {when(start, tz)} (usually under {floor:.0f})"
        if at_floor
        else f"{ratio:.1f}× the usual for a {when(start, tz)} (expected {low:.0f}–{high:.0f})"
    )
    return (
        f"Mentions of {topic}: {posts} in the last {span(minutes)}, {usual}; "
        f"{share:.0%} negative vs {usual_share:.0%} usually; {authors} distinct authors"
        f"{led_by(tags)}{storm}{tone}."
    )


def not_negative(positive_share: float) -> str:
    """Clause for a volume spike whose tone did not turn negative (a launch, good news)."""
    return f"; the tone is not negative ({positive_share:.0%} positive): attention, not a crisis"


def negative_surge(
    topic: str,
    *,
    negative: int,
    minutes: int,
    share: float,
    texts: int,
    usual_share: float,
    start: datetime,
    tz: str,
    ratio: float,
    authors: int,
    tags: Sequence[str],
    storm: str,
) -> str:
    return (
        f"Negative mentions of {topic}: {negative} in the last {minutes} minutes "
        f"({share:.0%} of {texts} distinct texts, from {authors} distinct authors) vs "
        f"{usual_share:.0%} usually for a {when(start, tz)}; {ratio:.1f}× the usual negative "
        f"count{led_by(tags)}{storm}."
    )


def high_reach_post(topic: str, *, author: str | None, followers_: int, platform: str) -> str:
    return (
        f"A negative post about {topic} from {author or 'an account'} "
        f"({followers_:,} followers) on {platform}."
    )


def words(found: Sequence[tuple[str, int]], fallback: str) -> str:
    return ", ".join(f"“{w}” ×{k}" for w, k in found) or fallback


def crisis_terms(
    topic: str,
    *,
    hits: int,
    minutes: int,
    usual: float,
    found: Sequence[tuple[str, int]],
    authors: int,
) -> str:
    return (
        f"Crisis words in mentions of {topic}: {hits} in the last {minutes} minutes "
        f"where {usual:.0f} are usual ({words(found, 'crisis vocabulary')}), "
        f"from {authors} distinct authors."
    )


def crisis_note(hits: int, usual: float, found: Sequence[tuple[str, int]]) -> str:
    return f"crisis words up ({words(found, f'{hits} hits')}; {usual:.0f} usual)"


def spread_note(platforms: Sequence[str]) -> str:
    return f"rising on {len(platforms)} platforms ({', '.join(platforms)})"


def news_note(platforms: Sequence[str]) -> str:
    return f"picked up by the news ({', '.join(platforms)})"


def reach_note(authors: int, reach: int) -> str:
    return f"the {authors} negative authors have {followers(reach)} followers together"


def with_notes(sentence: str, notes: Sequence[str]) -> str:
    return sentence.rstrip(".") + "; " + "; ".join(notes) + "."


def silence(topic: str, *, where: str, minutes: int) -> str:
    return (
        f"No mentions of {topic} on {where} in the last {minutes} minutes, "
        "although the source answers: people have stopped talking about it there."
    )


def source_down(topic: str, *, where: str, minutes: int) -> str:
    return (
        f"No mentions of {topic} from {where} in the last {minutes} minutes, "
        "and the source is failing: this is a broken feed, not a quiet topic."
    )
