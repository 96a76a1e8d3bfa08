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

Each run is timed twice: wall clock (`perf_counter`) and this thread's CPU time (`thread_time`).
On a busy machine (a test suite running beside the bench, say) the wall clock counts the time the
scheduler gave to other processes; the CPU time does not. The 1-minute load average is printed
first, and a warning when the machine is busy: quote wall-clock figures only from an idle run.
"""

from __future__ import annotations

import argparse
import math
import os
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


def timed(buckets: list[Bucket], runs: int, walk: bool) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds of each run, and the signals raised on the last one."""
    s = settings_for("balanced", bucket_seconds=60)
    known = volume_state(buckets, 60)
    series.fill(known, s.series_settings)  # what the pipeline has stored
    laps: list[float] = []
    cpu: list[float] = []
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
        c, t = time.thread_time(), time.perf_counter()
        got = evaluate("acme", upto, now, s, volume=state)
        laps.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
        signals = len(got)
    return laps, cpu, signals


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"median {statistics.median(ms):.3f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.3f} ms"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=300)
    args = p.parse_args()
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(
        f"machine: {cpu_model()}, {cores} cores, Python {platform.python_version()}; "
        f"load average (1 min) {load:.2f}"
    )
    if load >= 1.0:
        print(
            "warning: the machine is busy; wall-clock figures include time given to other "
            "processes. Quote the CPU-time figures, or rerun on an idle machine."
        )
    for label, spike in (("quiet", False), ("spike", True)):
        wall, cpu, n = timed(make_series(spike), args.runs, walk=not spike)
        print(
            f"{label:5s}: 40,320 one-minute buckets, {n} signal(s) on the last; per evaluation: "
            f"wall {summary(wall)}; CPU {summary(cpu)}"
        )
    return 0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
