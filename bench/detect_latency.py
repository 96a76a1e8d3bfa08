"""Latency of the live detectors: one topic, four weeks of one-minute buckets, latest window judged.

    .venv/bin/python bench/detect_latency.py [--runs 300]

Builds 28 × 1,440 buckets with a daily cycle and Poisson noise (counts, negatives, authors,
distinct texts), then times `worker.detection.evaluate` — what the `detect` task runs for a topic
each bucket — on the whole series, judging the latest 30-minute window against its hour-of-day /
hour-of-week baseline. Reports the median and the 95th percentile over `--runs` runs, and the same
for a series that ends in a spike (the path that builds explanations and evidence).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.detection import evaluate, settings_for  # noqa: E402
from worker.model import Bucket  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def series(spike: bool) -> list[Bucket]:
    rng = np.random.default_rng(7)
    n = 28 * 1440
    minute = np.arange(n) % 1440
    rate = 4 + 3 * np.sin(2 * math.pi * (minute - 480) / 1440)
    counts = rng.poisson(rate)
    if spike:
        counts[-30:] += 25
    out = []
    for i, c in enumerate(counts.tolist()):
        out.append(Bucket(T0 + timedelta(minutes=i), count=c, negative=c // 4, authors=c, texts=c))
    if spike:
        out[-30:] = [replace(b, negative=b.count * 3 // 4) for b in out[-30:]]
    return out


def timed(buckets: list[Bucket], runs: int) -> tuple[float, float, int]:
    s = settings_for("balanced", bucket_seconds=60)
    now = buckets[-1].start + timedelta(minutes=1)
    signals = evaluate("acme", buckets, now, s)
    laps = []
    for _ in range(runs):
        t = time.perf_counter()
        evaluate("acme", buckets, now, s)
        laps.append((time.perf_counter() - t) * 1000)
    laps.sort()
    return statistics.median(laps), laps[int(0.95 * (len(laps) - 1))], len(signals)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=300)
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    for label, spike in (("quiet", False), ("spike", True)):
        med, p95, n = timed(series(spike), args.runs)
        print(
            f"{label:5s}: 40,320 one-minute buckets, {n} signal(s): "
            f"median {med:.3f} ms, p95 {p95:.3f} ms per evaluation"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
