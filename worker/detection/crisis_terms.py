"""Crisis vocabulary: posts with crisis words ("boycott", "recall", "arnaque", …, plus a
topic's own `crisis_terms`) against the same window on earlier days.

The count comes from the buckets (posts with at least one crisis word), weighed by the distinct
authors of the matching posts, so one person repeating "scam" forty times weighs one. When it
rose (at least `min_crisis_terms`, tail ≤ `alpha`) it is an amplifier of a volume or negative
signal, or a `crisis_terms` signal (SEV3) on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from worker.detection import explain
from worker.detection.window import Baseline, Voices, Window, tail, top, voices
from worker.model import Evidence, Mention, Signal


@lru_cache(maxsize=64)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted(dict.fromkeys(t.lower() for t in terms), key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(" + "|".join(re.escape(t) for t in alternatives) + r")(?!\w)", re.IGNORECASE
    )


def terms_in(text: str, terms: tuple[str, ...]) -> set[str]:
    return {t.lower() for t in _pattern(terms).findall(text)}


@dataclass(frozen=True)
class CrisisWords:
    #: Posts with crisis words in the window (from the buckets), and weighed by authors.
    hits: int
    weighed: float
    usual: Baseline
    p_value: float
    rose: bool
    #: The three commonest words, with the number of posts that carry each.
    found: list[tuple[str, int]]
    matching: list[Mention]
    who: Voices


def measure(w: Window) -> CrisisWords:
    s = w.settings
    hits = sum(b.crisis_terms for b in w.buckets[-w.n :])
    usual = w.baseline("crisis")
    p = tail(hits, usual.expected, usual.spread)
    raw = w.warmed_up and hits >= s.min_crisis_terms and p <= s.alpha
    if not raw:
        return CrisisWords(hits, hits, usual, p, False, [], [], Voices(0, 0, 0))
    terms = tuple(s.all_crisis_terms)
    found: Counter[str] = Counter()
    matching = []
    for m in w.mentions:
        words = terms_in(m.text, terms)
        if words:
            matching.append(m)
            found.update(words)
    order = {t: i for i, t in enumerate(dict.fromkeys(t.lower() for t in terms))}
    ranked = sorted(found.items(), key=lambda tc: (-tc[1], order.get(tc[0], len(order))))
    who = voices(matching)
    weighed = who.weigh(hits)
    p = tail(weighed, usual.expected, usual.spread)
    rose = weighed >= s.min_crisis_terms and p <= s.alpha
    return CrisisWords(hits, weighed, usual, p, rose, ranked[:3], matching, who)


def note(c: CrisisWords) -> str:
    return explain.crisis_note(c.hits, c.usual.expected, c.found)


def signal(w: Window, c: CrisisWords, rising: Sequence[str]) -> Signal:
    return Signal(
        w.topic,
        "crisis_terms",
        w.end,
        round(1 - c.p_value, 6),
        3,
        explain.crisis_terms(
            w.topic,
            hits=c.hits,
            minutes=w.settings.window_minutes,
            usual=c.usual.expected,
            found=c.found,
            authors=c.who.authors if c.who.posts else c.hits,
        ),
        Evidence(
            w.start,
            w.end,
            float(c.hits),
            c.usual.expected,
            c.usual.low,
            c.usual.high,
            1 - c.p_value,
            {
                "terms": dict(c.found),
                "rising_platforms": list(rising),
                "authors": c.who.authors,
                "weighed_by_authors": round(c.weighed, 3),
            },
        ),
        top(c.matching),
    )
