"""Negative surge: more negative texts than usual for this window, from many people, and a
higher negative share.

Who is speaking matters: the count of negative texts is weighed by how many distinct authors
wrote them (`Voices.weigh`), so one customer posting forty angry messages weighs one — a
customer-service case, not a crisis — while the same forty messages from forty people weigh
forty. The test is a Poisson tail against the same window on earlier days (`alpha`), at least
`min_negative` weighed texts, and a negative share at least `min_share_rise` above its usual.
"""

from __future__ import annotations

from worker.detection import explain
from worker.detection.severity import severity
from worker.detection.window import Window, tail, top, voices
from worker.model import Evidence, Signal


def detect(w: Window, volume_ratio: float) -> Signal | None:
    s = w.settings
    if not w.warmed_up:
        return None
    who = w.negative_voices
    weighed = who.weigh(w.negative)
    usual = w.baseline("negative")
    expected = max(usual.expected, s.min_expected / 2)
    p = tail(weighed, expected, usual.spread)
    if weighed < s.min_negative or p > s.alpha or not w.negative_story:
        return None
    ratio = weighed / expected
    authors = who.authors if who.posts else w.negative
    text = explain.negative_surge(
        w.topic,
        negative=w.negative,
        minutes=s.window_minutes,
        share=w.share,
        texts=w.texts,
        usual_share=w.usual_share,
        start=w.start,
        tz=w.tz,
        ratio=ratio,
        authors=authors,
        tags=w.hashtags,
        storm=explain.storm_note(w.copies, w.count, w.storm),
    )
    everyone = voices(w.mentions)
    return Signal(
        w.topic,
        "negative_surge",
        w.end,
        round(1 - p, 6),
        severity(max(volume_ratio, ratio / 2), w.share, everyone.weigh(w.count)),
        text,
        Evidence(
            w.start,
            w.end,
            w.negative,
            usual.expected,
            usual.low,
            usual.high,
            1 - p,
            {
                "count": w.count,
                "negative_share": w.share,
                "baseline_negative_share": w.usual_share,
                "negative_authors": authors,
                "negative_weighed_by_authors": round(weighed, 3),
                "negative_reach": who.reach,
                "hashtags": w.hashtags,
                "distinct_texts": w.texts,
                "copies": w.copies,
            },
        ),
        top(w.mentions, negative_only=True),
    )
