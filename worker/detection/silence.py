"""Silence and broken sources: a platform that usually talks about the topic and went quiet.

`source_down` when its source is failing (a broken feed is not silence), else `silence` (nobody
is talking). A platform is judged only if even its quiet days (lower quartile of the same window
on earlier days) bring at least `silence_min_expected` posts: P(0 posts) is then below e^-10.
Both are SEV4 and describe the watch itself: they never open an incident (`WATCH_KINDS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from worker.detection import explain
from worker.detection.window import Baseline, Columns, Window, baseline
from worker.model import Bucket, Evidence, Signal

#: Signal kinds that describe the watch itself rather than a crisis: they never open an incident.
WATCH_KINDS = frozenset({"silence", "source_down"})


def detect(
    w: Window,
    per_platform: Mapping[str, Sequence[Bucket]] | None,
    source_health: Mapping[str, bool] | None,
    columns: Mapping[str, Columns] | None = None,
) -> list[Signal]:
    """`columns`: each platform's `Columns`, when the caller keeps them (same figures)."""
    if not w.warmed_up:
        return []
    s, n = w.settings, w.n
    health = source_health or {}
    quiet: dict[str, list[tuple[str, Baseline]]] = {"silence": [], "source_down": []}
    series_by = dict(per_platform or {})
    # Platforms whose source exists but brought nothing at all have no series: judge them too.
    for platform in health:
        series_by.setdefault(platform, [])
    for platform, plat in sorted(series_by.items()):
        if len(plat) < n + 1:
            if health.get(platform) is False and sum(b.count for b in w.buckets[-n:]) == 0:
                quiet["source_down"].append((platform, w.baseline("count")))
            continue
        if sum(b.count for b in plat[-n:]):
            continue
        usual = baseline(plat, n, "count", s, (columns or {}).get(platform))
        if usual.low < s.silence_min_expected:
            continue
        kind = "source_down" if health.get(platform) is False else "silence"
        quiet[kind].append((platform, usual))
    out = []
    for kind, items in quiet.items():
        if not items:
            continue
        where = ", ".join(f"{p} ({b.low:.0f}–{b.high:.0f} usual)" for p, b in items)
        say = explain.source_down if kind == "source_down" else explain.silence
        out.append(
            Signal(
                w.topic,
                kind,
                w.end,
                0.99,
                4,
                say(w.topic, where=where, minutes=s.window_minutes),
                Evidence(
                    w.start,
                    w.end,
                    0.0,
                    sum(b.expected for _, b in items),
                    sum(b.low for _, b in items),
                    sum(b.high for _, b in items),
                    0.99,
                    {"platforms": [p for p, _ in items]},
                ),
            )
        )
    return out
