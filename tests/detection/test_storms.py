"""A retweet storm of one text is flagged and counts once for the negative share."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from worker.detection import evaluate
from worker.detection.core import DetectionSettings
from worker.model import Bucket

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def series(last: Bucket) -> list[Bucket]:
    """Two quiet days of 5-minute buckets (10 posts, 2 negative), then six copies of `last`."""
    quiet = [
        Bucket(T0 + timedelta(minutes=5 * i), count=10, negative=2, authors=10, texts=10)
        for i in range(2 * 288)
    ]
    end = quiet[-1].start
    return quiet + [replace(last, start=end + timedelta(minutes=5 * (i + 1))) for i in range(6)]


def test_storm_is_flagged_and_does_not_swing_the_negative_share() -> None:
    # 100 posts a bucket from 90 accounts, but only 12 distinct texts, 6 of them negative:
    # one angry text retweeted by a botnet.
    buckets = series(Bucket(T0, count=100, negative=6, authors=90, texts=12))
    now = buckets[-1].start + timedelta(minutes=5)
    signals = evaluate("acme", buckets, now, DetectionSettings())
    kinds = {s.kind: s for s in signals}
    assert "volume_spike" in kinds
    vol = kinds["volume_spike"]
    assert vol.evidence.details["copies"] == 6 * 88
    assert "repeat an earlier text" in vol.explanation
    assert vol.evidence.details["negative_share"] == 0.5  # 36 negative of 72 distinct texts
    # 36 negative texts where 12 are usual is a rise, but not the 600 a per-post count would claim.
    assert vol.evidence.details["negative"] == 36


def test_without_copies_there_is_no_storm_note() -> None:
    buckets = series(Bucket(T0, count=100, negative=20, authors=90, texts=100))
    now = buckets[-1].start + timedelta(minutes=5)
    vol = next(
        s for s in evaluate("acme", buckets, now, DetectionSettings()) if s.kind == "volume_spike"
    )
    assert vol.evidence.details["copies"] == 0
    assert "repeat" not in vol.explanation
