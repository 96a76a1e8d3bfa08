"""High-reach post: one negative post from an author with at least `high_reach_followers`
followers is its own signal (SEV3), whatever the counts say."""

from __future__ import annotations

from worker.detection import explain
from worker.detection.window import Window, is_negative
from worker.model import Evidence, Signal


def detect(w: Window) -> Signal | None:
    s = w.settings
    for m in w.mentions:
        if is_negative(m) and (m.author_followers or 0) >= s.high_reach_followers:
            return Signal(
                w.topic,
                "high_reach_post",
                w.end,
                0.9,
                3,
                explain.high_reach_post(
                    w.topic,
                    author=m.author,
                    followers_=m.author_followers or 0,
                    platform=m.platform,
                ),
                Evidence(
                    w.start,
                    w.end,
                    float(m.author_followers or 0),
                    0,
                    0,
                    float(s.high_reach_followers),
                    0.9,
                    {"mention": m.id, "url": m.url},
                ),
                (m.id,),
            )
    return None
