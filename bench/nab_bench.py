"""NAB realTweets score of `tocsin detect-series` with its shipped defaults.

    python bench/nab_bench.py [--shared ../shared]

1. Runs `worker.detection.cli.detect_series` (exactly what `tocsin detect-series` runs) over every
   realTweets file found under SHARED/data/nab/data, writing bench/out/nab/<file>.csv.
2. Scores with SHARED/nab_score.py: the `alert` column at one fixed threshold (0.5) — the number
   that counts — and, for reference, `anomaly_score` with the threshold swept on the same files.
3. Prints the false-positive rows at the default and the detector's per-point throughput.
4. Runs an open-source peer in the same process on the same files: LinkedIn's luminol (Apache-2.0,
   its default bitmap detector), scored the same two ways — its own anomalies (one alert at each
   anomaly's peak: luminol's default decision) and its scores with the threshold swept — with its
   per-point throughput. Luminol looks at future points too (its bitmap compares the windows
   before and after each point), so it is not a causal, live-usable detector; it is here as the
   yardstick the issue names.
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


def luminol_frames(ts: list[str], values: list[float]) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(one alert per luminol anomaly, luminol scores scaled to [0, 1], seconds taken)."""
    import numpy

    if not hasattr(numpy, "asscalar"):  # luminol 0.4 predates NumPy 1.23's removal of asscalar
        numpy.asscalar = lambda a: a.item()  # type: ignore[attr-defined]
    from luminol.anomaly_detector import AnomalyDetector

    t0 = time.perf_counter()
    detector = AnomalyDetector({i: float(v) for i, v in enumerate(values)})
    scores = detector.get_all_scores()
    anomalies = detector.get_anomalies()
    seconds = time.perf_counter() - t0
    s = np.array(scores.values, dtype=float)
    s = s / s.max() if s.max() > 0 else s
    alert = np.zeros(len(values))
    for a in anomalies:
        alert[int(a.exact_timestamp)] = 1.0
    base = pd.DataFrame({"timestamp": ts, "value": values})
    return base.assign(anomaly_score=alert), base.assign(anomaly_score=s), seconds


def report(nab, fixed, swept, fixed_name: str, swept_name: str, default_name: str) -> None:  # type: ignore[no-untyped-def]
    """Per profile, the fixed-decision and swept scores; then windows and FP rows at the fixed one."""
    for profile in nab.PROFILE_ORDER:
        f_, s_ = fixed[profile], swept[profile]
        print(
            f"{profile:20s} {fixed_name}: {f_['normalized']:6.1f}   "
            f"{swept_name}: {s_['normalized']:6.1f} (threshold {s_['threshold']})"
        )
    std = fixed["standard"]
    print(
        f"standard, {default_name}: windows detected {std['windows_detected']}/{std['windows']}, "
        f"false-positive rows {std['fp_rows']}"
    )


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
    alerts, scores, peer_alerts, peer_scores = {}, {}, {}, {}
    points, seconds, peer_seconds = 0, 0.0, 0.0
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
        ts = [str(x) for x in df["timestamp"]]
        peer_alerts[key], peer_scores[key], took = luminol_frames(ts, [float(x) for x in values])
        peer_seconds += took
        t0 = time.perf_counter()
        for _ in range(3):
            detect(v, width, DEFAULT)
        seconds += (time.perf_counter() - t0) / 3
        points += len(v)
    fixed = nab.score(alerts, thresholds={p: 0.5 for p in nab.PROFILE_ORDER})
    swept = nab.score(scores)
    peer_fixed = nab.score(peer_alerts, thresholds={p: 0.5 for p in nab.PROFILE_ORDER})
    peer_swept = nab.score(peer_scores)
    windows = sum(len(nab.load_windows()[k]) for k in alerts)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"files: {len(files)}, labelled windows: {windows}, alerts raised: "
        f"{int(sum(d['anomaly_score'].sum() for d in alerts.values()))}"
    )
    report(nab, fixed, swept, "default alert column", "swept anomaly_score", "at default")
    print(
        f"throughput: {points / seconds:,.0f} points/s ({points} points in {seconds:.2f} s, whole-series batch)"
    )
    print("\npeer, same run: luminol 0.4 (bitmap detector, default settings)")
    report(nab, peer_fixed, peer_swept, "its own anomalies", "swept score", "its own anomalies")
    print(f"throughput: {points / peer_seconds:,.0f} points/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
