"""NAB realTweets score of `tocsin detect-series` with its shipped defaults.

    python bench/nab_bench.py [--shared ../shared]

1. Runs `worker.detection.cli.detect_series` (exactly what `tocsin detect-series` runs) over every
   realTweets file found under SHARED/data/nab/data, writing bench/out/nab/<file>.csv.
2. Scores with SHARED/nab_score.py: the `alert` column at one fixed threshold (0.5) — the number
   that counts — and, for reference, `anomaly_score` with the threshold swept on the same files.
3. Prints the false-positive rows at the default and the detector's per-point throughput.
The data stay in SHARED; nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.detection.cli import detect_series, read_series  # noqa: E402
from worker.detection.series import DEFAULT, detect  # noqa: E402


def load_scorer(shared: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("nab_score", shared / "nab_score.py")
    assert spec and spec.loader, f"{shared / 'nab_score.py'} not found"
    mod = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "nab")
    args = ap.parse_args()
    nab = load_scorer(args.shared)
    files = sorted((args.shared / "data" / "nab" / "data" / "realTweets").glob("*.csv"))
    if not files:
        print(f"no NAB files under {args.shared}", file=sys.stderr)
        return 2
    alerts, scores = {}, {}
    points, seconds = 0, 0.0
    for f in files:
        out = args.out / f.name
        detect_series(f, out)
        df = pd.read_csv(out)
        key = f"realTweets/{f.name}"
        alerts[key] = df.assign(anomaly_score=df["alert"].astype(float))[
            ["timestamp", "value", "anomaly_score"]
        ]
        scores[key] = df[["timestamp", "value", "anomaly_score"]]
        _, values, width = read_series(f)
        v = np.array(values)
        t0 = time.perf_counter()
        for _ in range(3):
            detect(v, width, DEFAULT)
        seconds += (time.perf_counter() - t0) / 3
        points += len(v)
    fixed = nab.score(alerts, thresholds={p: 0.5 for p in nab.PROFILE_ORDER})
    swept = nab.score(scores)
    windows = sum(len(nab.load_windows()[k]) for k in alerts)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"files: {len(files)}, labelled windows: {windows}, alerts raised: "
        f"{int(sum(d['anomaly_score'].sum() for d in alerts.values()))}"
    )
    for profile in nab.PROFILE_ORDER:
        f_, s_ = fixed[profile], swept[profile]
        print(
            f"{profile:20s} default alert column: {f_['normalized']:6.1f}   "
            f"swept anomaly_score: {s_['normalized']:6.1f} (threshold {s_['threshold']})"
        )
    std = fixed["standard"]
    print(
        f"standard at default: windows detected {std['windows_detected']}/{std['windows']}, "
        f"false-positive rows {std['fp_rows']}"
    )
    print(
        f"throughput: {points / seconds:,.0f} points/s ({points} points in {seconds:.2f} s, whole-series batch)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
