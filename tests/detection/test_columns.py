"""`window.Columns`: the week's negative share and the same-window baselines summed as array
slices give the very figures the loops over `Bucket` objects give."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from worker.detection.core import settings_for
from worker.detection.window import Columns, baseline, usual_negative_share
from worker.model import Bucket

T0 = datetime(2026, 5, 4, tzinfo=UTC)


def _buckets(rng: random.Random, n: int, width: int) -> list[Bucket]:
    out = []
    for i in range(n):
        count = rng.choice([0, 0, 1, 2, 5, rng.randrange(60)])
        texts = rng.choice([0, count, max(0, count - rng.randrange(3))])  # 0: unknown
        out.append(
            Bucket(
                T0 + timedelta(seconds=i * width),
                count=count,
                negative=rng.randrange(count + 1),
                crisis_terms=rng.randrange(count + 1),
                texts=texts,
            )
        )
    return out


@pytest.mark.parametrize("width", [60, 300, 3600])
@pytest.mark.parametrize("days", [0.3, 1.5, 9, 20])
def test_sums_from_columns_equal_the_loops(width: int, days: float) -> None:
    rng = random.Random(f"{width}-{days}")
    s = replace(settings_for("balanced"), bucket_seconds=width)
    n = max(1, s.window_minutes * 60 // width)
    buckets = _buckets(rng, int(days * 86_400 // width), width)
    columns = Columns.of(buckets)
    assert usual_negative_share(buckets, n, s, columns) == usual_negative_share(buckets, n, s)
    for value in ("count", "negative", "crisis"):
        assert baseline(buckets, n, value, s, columns) == baseline(buckets, n, value, s)


def test_columns_of_other_buckets_are_not_used() -> None:
    """Columns of a different length (not these buckets) are ignored, not misread."""
    rng = random.Random(3)
    s = settings_for("balanced")
    buckets = _buckets(rng, 3000, 300)
    wrong = Columns.of(buckets[:-1])
    assert usual_negative_share(buckets, 36, s, wrong) == usual_negative_share(buckets, 36, s)
