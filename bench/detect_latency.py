"""Latency of the live detectors: one topic, four weeks of one-minute buckets, latest window judged.

    .venv/bin/python bench/detect_latency.py [--runs 300]

Builds 28 × 1,440 buckets with a daily cycle and Poisson noise (counts, negatives, authors,
distinct texts), then times `worker.detection.evaluate` — what the `detect` task runs for a topic
each bucket — on the whole series: the volume detector on the newest bucket (its stored state for
the earlier buckets given, as the pipeline's `volume_state` table gives it; the newest bucket's
expected count, spread and surprise are worked out inside the timed call), and the negative,
crisis-word and per-platform tests on the latest 30-minute window. Reports the median and the
95th percentile over `--runs` runs, for a quiet series and one that ends in a spike (the path that
builds explanations and evidence). The quiet runs walk the last `--runs` buckets, so about one in
60 pays for the hourly refresh of the spread; the spike runs all judge the spike's last bucket.
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

from worker.detection import evaluate, series, settings_for  # noqa: E402
from worker.detection.core import volume_state  # noqa: E402
from worker.model import Bucket  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def make_series(spike: bool) -> list[Bucket]:
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


def timed(buckets: list[Bucket], runs: int, walk: bool) -> tuple[float, float, int]:
    s = settings_for("balanced", bucket_seconds=60)
    known = volume_state(buckets, 60)
    series.fill(known, s.series_settings)  # what the pipeline has stored
    laps = []
    signals = 0
    for r in range(runs):
        # Quiet: walk the last `runs` buckets. Spike: judge the spike's last bucket every time.
        end = len(buckets) - (runs - 1 - r) if walk else len(buckets)
        upto = buckets[:end]
        state = series.VolumeState(
            known.values[:end],
            known.expected[:end].copy(),
            known.spread[:end].copy(),
            known.surprise[:end].copy(),
            60,
            known.phase,
        )
        state.expected[-1] = state.spread[-1] = state.surprise[-1] = float("nan")  # the new one
        now = upto[-1].start + timedelta(minutes=1)
        t = time.perf_counter()
        got = evaluate("acme", upto, now, s, volume=state)
        laps.append((time.perf_counter() - t) * 1000)
        signals = len(got)
    laps.sort()
    return statistics.median(laps), laps[int(0.95 * (len(laps) - 1))], signals


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=300)
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    for label, spike in (("quiet", False), ("spike", True)):
        med, p95, n = timed(make_series(spike), args.runs, walk=not spike)
        print(
            f"{label:5s}: 40,320 one-minute buckets, {n} signal(s) on the last: "
            f"median {med:.3f} ms, p95 {p95:.3f} ms per evaluation"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
