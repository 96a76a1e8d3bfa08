"""Generated mention scenarios for tests and benchmarks (no third-party data).

`calm_then_burst` writes a Mentions JSONL file: a few topics with a calm day-shaped background
(several authors, mixed sentiment, a few platforms) and, for the topics named in `bursts`, an
angry burst from many distinct authors with crisis words at the given hour.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday

CALM = (
    "Just got my {b} order, works fine",
    "Anyone else using {b} at home? Pretty happy with it",
    "{b} customer support answered in five minutes, thanks",
    "Not sure about the new {b} colours",
    "The {b} app update is ok I guess",
    "Love my {b} lamp, great light for reading",
    "{b} delivery was late again, meh",
)
ANGRY = (
    "{b} lamp caught fire in my kitchen, this is dangerous #{b}fire",
    "Boycott {b}, they knew about the battery and did nothing",
    "My {b} burned my desk. Lawsuit coming. #{b}fire",
    "Recall {b} now! Dangerous product, my kid was almost injured",
)


def calm_then_burst(
    path: Path,
    topics: Sequence[str],
    *,
    days: float,
    per_hour: float = 12.0,
    bursts: Iterable[tuple[str, float]] = (),
    burst_size: int = 90,
    burst_minutes: int = 45,
    platforms: Sequence[str] = ("bluesky", "mastodon", "reddit"),
    seed: int = 7,
    start: datetime = T0,
) -> int:
    """Write the scenario; return the number of mentions written."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    hours = int(days * 24)
    for topic in topics:
        brand = topic.capitalize()
        for h in range(hours):
            # A day shape: quiet at night, busy in the afternoon.
            rate = per_hour * (0.35 + 0.65 * max(0.0, math.sin(math.pi * ((h % 24) - 6) / 16)))
            for _ in range(_poisson(rng, rate)):
                at = start + timedelta(hours=h, seconds=rng.randrange(3600))
                rows.append(_mention(rng, topic, at, rng.choice(CALM).format(b=brand), platforms))
        for burst_topic, hour in bursts:
            if burst_topic != topic:
                continue
            for k in range(burst_size):
                at = start + timedelta(hours=hour, seconds=rng.randrange(burst_minutes * 60))
                text = rng.choice(ANGRY).format(b=brand) + f" ({k})"
                rows.append(
                    _mention(rng, topic, at, text, platforms, author=f"{topic}_angry_{k % 70}")
                )
    rows.sort(key=lambda r: str(r["created_at"]))
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return len(rows)


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _mention(
    rng: random.Random,
    topic: str,
    at: datetime,
    text: str,
    platforms: Sequence[str],
    author: str | None = None,
) -> dict[str, object]:
    return {
        "platform": rng.choice(platforms),
        "id": f"{topic}-{at.timestamp():.0f}-{rng.randrange(10**9)}",
        "created_at": at.isoformat(),
        "text": text,
        "author": author or f"user{rng.randrange(400)}",
        "author_followers": rng.randrange(50, 5000),
        "likes": rng.randrange(10),
        "topic": topic,
    }
