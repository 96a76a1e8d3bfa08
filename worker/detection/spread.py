"""Platform spread and news pickup: the platforms where the topic is rising (each at least
`spread_min_count` posts in the window and `min_ratio` × its own usual). Two or more is
"spread"; a news platform among them is "news pickup". Both are amplifiers, never signals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from worker.detection.settings import DetectionSettings
from worker.detection.window import Columns, baseline
from worker.model import Bucket

#: Platforms that are news, not social posts: a rise there is "news pickup".
NEWS_PLATFORMS = frozenset({"rss", "news"})


def rising_platforms(
    per_platform: Mapping[str, Sequence[Bucket]] | None,
    n: int,
    s: DetectionSettings,
    columns: Mapping[str, Columns] | None = None,
) -> list[str]:
    """`columns`: each platform's `Columns`, when the caller keeps them (same figures)."""
    rising = []
    for platform, plat in sorted((per_platform or {}).items()):
        if len(plat) < n + 1:
            continue
        observed = sum(b.count for b in plat[-n:])
        usual = baseline(plat, n, "count", s, (columns or {}).get(platform)).expected
        if observed >= s.spread_min_count and observed >= s.min_ratio * usual:
            rising.append(platform)
    return rising


def news(rising: Sequence[str]) -> list[str]:
    return [p for p in rising if p in NEWS_PLATFORMS]
