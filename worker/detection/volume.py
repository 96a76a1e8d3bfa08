"""Volume: more distinct authors than usual for this time of day (the NAB-measured test).

The series detector of `series.py` runs on distinct authors per bucket, so one person posting
40 times counts once. It pages when the most surprising window (15 minutes, an hour or three
hours) is more surprising than the topic's reference day and holds at least `min_count`
authors. A spike whose tone did not turn negative (a launch, good news) is reported at SEV4:
attention, not a crisis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from worker.detection import explain, series
from worker.detection.severity import severity
from worker.detection.window import Window, authors_of, busiest_author_buckets, texts_of, top
from worker.model import Bucket, Evidence, Signal


def volume_values(buckets: Sequence[Bucket]) -> np.ndarray:
    """The series the volume detector judges: distinct authors per bucket (else posts)."""
    return np.fromiter((authors_of(b) for b in buckets), dtype=np.float64, count=len(buckets))


def volume_state(buckets: Sequence[Bucket], bucket_seconds: int) -> series.VolumeState:
    """A fresh `VolumeState` for `buckets` (nothing known yet: `series.fill` works it all out)."""
    epoch0 = buckets[0].start.timestamp() if buckets else 0.0
    phase = series.phase_of(epoch0, bucket_seconds) if buckets else 0
    return series.VolumeState.fresh(volume_values(buckets), bucket_seconds, phase, epoch0)


def one_voice(w: Window, judged: series.Judgement, start: datetime) -> bool:
    """Whether the rise is one person's doing: with the window's most active author counted
    once (not once per bucket), it no longer holds `min_count` authors or `min_rise` × the
    expected count. With one-minute buckets, one customer posting every minute for an hour
    would otherwise add sixty "authors" to a quiet topic's hour."""
    s = w.settings
    repeats = busiest_author_buckets(w.since(start), start, s.bucket_seconds) - 1
    if repeats <= 0:
        return False
    once = judged.window_observed - repeats
    need = float(s.min_count)
    if s.series_settings.min_rise > 1.0:
        need = max(need, s.series_settings.min_rise * judged.window_expected)
    return once < need


def detect(w: Window, volume: series.VolumeState | None) -> tuple[Signal | None, float]:
    """The volume spike of the newest bucket, if any, and the volume ratio (observed / expected
    over the most surprising window), which the negative surge's severity also reads."""
    s = w.settings
    buckets = w.buckets
    if volume is None or len(volume.values) != len(buckets):
        volume = volume_state(buckets, s.bucket_seconds)
    judged, _ = series.judge(volume, s.series_settings)
    ratio = judged.window_observed / max(judged.window_expected, 1e-9)
    if not (
        w.warmed_up and judged.score >= s.alert_score and judged.window_observed >= s.min_count
    ):
        return None, ratio
    k = judged.window_buckets
    vol_window = buckets[-k:]
    start = vol_window[0].start
    if one_voice(w, judged, start):
        return None, ratio
    posts = sum(b.count for b in vol_window)
    positive = sum(b.positive for b in vol_window)
    authors = int(judged.window_observed)
    low, high = judged.band()
    floor = k * series.min_expected(s.bucket_seconds, s.series_settings)
    negative_story = w.negative_story
    texts = sum(texts_of(b) for b in vol_window)
    tone = "" if negative_story else explain.not_negative(positive / max(1, texts))
    text = explain.volume_spike(
        w.topic,
        posts=posts,
        minutes=judged.window_minutes,
        ratio=ratio,
        start=start,
        tz=w.tz,
        at_floor=judged.window_expected <= floor * (1 + 1e-9),
        floor=floor,
        low=low,
        high=high,
        share=w.share,
        usual_share=w.usual_share,
        authors=authors,
        tags=w.hashtags,
        storm=explain.storm_note(w.copies, w.count, w.storm),
        tone=tone,
    )
    signal = Signal(
        w.topic,
        "volume_spike",
        w.end,
        round(judged.score, 6),
        severity(ratio, w.share, authors) if negative_story else 4,
        text,
        Evidence(
            start,
            w.end,
            judged.window_observed,
            judged.window_expected,
            low,
            high,
            1 - judged.p_value,
            {
                "count": posts,
                "negative": w.negative,
                "negative_share": w.share,
                "baseline_negative_share": w.usual_share,
                "negative_story": negative_story,
                "baseline_by": "time of day over the last two weeks (weekdays with weekdays), raised by the trend",
                "surprise": round(judged.surprise, 3),
                "reference_surprise": round(judged.reference, 3),
                "window_minutes": judged.window_minutes,
                "hashtags": w.hashtags,
                "distinct_texts": w.texts,
                "copies": w.copies,
            },
        ),
        top(w.since(start)),
    )
    return signal, ratio
