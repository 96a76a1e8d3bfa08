"""End-to-end `tocsin replay` / `tocsin backtest` throughput on SQLite, and the scale curve (issue #10).

    .venv/bin/python bench/replay_bench.py                  # every case, full sizes
    .venv/bin/python bench/replay_bench.py --quick          # small sizes (a few minutes)
    .venv/bin/python bench/replay_bench.py --cases one,fifty --sizes 10000,50000

Cases (scenarios made by `tests.scenarios.calm_then_burst`: a day-shaped calm background on
three platforms and an angry burst, no third-party data):

- `one`: 1 topic, 14 days;      `fifty`: 50 topics, 7 days;
- `four12`: 4 topics, 12 days, ~23,000 mentions (the issue's case);
- `backtest`: `tocsin backtest` of 30 days of one busy topic (~1,400 mentions a day);
- `curve`: 4 topics at a fixed rate (~3,600 mentions a day), longer and longer files
  (10,000 → 500,000 mentions): mentions/s and peak RSS at each size. Linear means the rate stays
  flat once the detectors' 28-day history is full; quadratic means it keeps falling.

Each run is a fresh child process (so its peak RSS is its own): it replays the file through the
real CLI function and reports wall time, its own CPU time and `ru_maxrss`. On a shared machine
the wall clock counts other people's work; the CPU figure does not (both are printed, with the
1-minute load average before and after). Targets (issue #10): ≥ 2,000 mentions/s for 1 and for
50 topics; the curve's rate at its largest size within 20 % of its smallest; peak RSS within 20 %
between 50,000 and 500,000 mentions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import machine  # noqa: E402

# Mean of the generator's day shape (0.35 + 0.65·max(0, sin)) over 24 hours: mentions per
# topic-hour = per_hour × SHAPE.
SHAPE = 0.35 + 0.65 * (2 / 3.141592653589793) * 16 / 24

CONFIG = """
[tocsin]
bucket_minutes = 5
{topics}
[people.alice]
name = "Alice"
[groups]
oncall = ["alice"]
[policies.default]
steps = [{{ after_minutes = 0, notify = ["oncall"], channels = ["console"] }}]
"""


# --- the child: one measured run ------------------------------------------------------------


def child(kind: str, path: Path, out: Path, config: Path | None) -> dict[str, Any]:
    """Run one replay or backtest in this process; return its timings and peak RSS."""
    from worker.config import load_config

    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "replay":
        from tocsin.replay import replay

        cfg = load_config(config) if config else None
        result = replay(path, out, cfg, err=io.StringIO(), progress=False)
        mentions, incidents = result.mentions, len(result.incidents)
    else:
        from tocsin.backtest import backtest_main

        assert config is not None
        buf = io.StringIO()
        old, sys.stdout = sys.stdout, buf
        try:
            code = backtest_main([str(path), "--config", str(config), "--out", str(out)])
        finally:
            sys.stdout = old
        assert code == 0, buf.getvalue()[-2000:]
        mentions = sum(1 for _ in path.open(encoding="utf-8"))
        incidents = sum(1 for _ in (out / "incidents.jsonl").open(encoding="utf-8"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "mentions": mentions,
        "incidents": incidents,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "per_s_wall": round(mentions / wall),
        "per_s_cpu": round(mentions / cpu),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# --- the parent -----------------------------------------------------------------------------


def generate(path: Path, topics: list[str], days: float, per_hour: float, bursts: int) -> int:
    """Write a scenario in a child process (the generator holds every row in memory)."""
    code = (
        "import sys; from pathlib import Path; from tests.scenarios import calm_then_burst;"
        f"topics={topics!r}; days={days!r};"
        "b=[(t, 24.0*(1+k)*days/(%d+1)) for t in topics[:4] for k in range(%d)];"
        f"print(calm_then_burst(Path({str(path)!r}), topics, days=days, per_hour={per_hour!r},"
        " bursts=b))"
    ) % (bursts, bursts)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return int(done.stdout.strip())


def measure(kind: str, path: Path, out: Path, config: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, str(path), str(out)]
    if config:
        cmd.append(str(config))
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    row["load"] = f"{load:.1f}→{os.getloadavg()[0]:.1f}"
    return row


def write_config(path: Path, topics: list[str]) -> Path:
    path.write_text(
        CONFIG.format(topics="".join(f'\n[[topics]]\nname = "{t}"\n' for t in topics)),
        encoding="utf-8",
    )
    return path


def show(name: str, row: dict[str, Any]) -> None:
    print(
        f"{name:<22} {row['mentions']:>8} mentions  {row['wall_s']:>8.1f} s  "
        f"{row['per_s_wall']:>6}/s wall  {row['per_s_cpu']:>6}/s cpu  "
        f"{row['peak_rss_mb']:>5} MB  {row['incidents']:>3} incidents  load {row['load']}",
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    p.add_argument("--cases", default="one,fifty,four12,backtest,curve")
    p.add_argument("--sizes", help="curve sizes, comma-separated (default 10k,50k,100k,250k,500k)")
    p.add_argument("--keep", type=Path, help="keep generated files and outputs here")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        kind, path, out, *config = args.child
        print(json.dumps(child(kind, Path(path), Path(out), Path(config[0]) if config else None)))
        return 0

    q = 0.1 if args.quick else 1.0
    cases = set(args.cases.split(","))
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([5_000, 20_000] if args.quick else [10_000, 50_000, 100_000, 250_000, 500_000])
    )
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-replay-bench-") as tmp_name:
        tmp = args.keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)

        def run(name: str, topics: list[str], days: float, per_hour: float, kind: str) -> None:
            path = tmp / f"{name}.jsonl"
            generate(path, topics, days, per_hour, bursts=2)
            config = write_config(tmp / f"{name}.toml", topics)
            row = measure(kind, path, tmp / f"{name}-out", config)
            summary[name] = row
            show(name, row)

        if "one" in cases:
            run("one-topic-14d", ["acme"], 14 * q if q < 1 else 14, 90 * q, "replay")
        if "fifty" in cases:
            run("fifty-topics-7d", [f"t{k:02d}" for k in range(50)], 7, 8 * q, "replay")
        if "four12" in cases:
            run("four-topics-12d", ["acme", "globex", "initech", "umbrella"], 12, 32 * q, "replay")
        if "backtest" in cases:
            run("backtest-30d", ["acme"], 30 * q, 1400 / 24 / SHAPE, "backtest")
        if "curve" in cases:
            topics = ["acme", "globex", "initech", "umbrella"]
            per_hour = 3600 / 24 / SHAPE / len(topics)
            curve = []
            for n in sizes:
                days = n / 3600
                row = measure_curve(tmp, n, topics, days, per_hour)
                curve.append(row)
                show(f"curve-{n}", row)
            summary["curve"] = curve
            lo, hi = curve[0], curve[-1]
            print(
                f"curve: rate at {hi['mentions']} = {hi['per_s_cpu'] / lo['per_s_cpu']:.0%} of the "
                f"rate at {lo['mentions']} (cpu; {hi['per_s_wall'] / lo['per_s_wall']:.0%} wall); "
                "target ≥ 80 %"
            )
            base = next((r for r in curve if r["mentions"] >= 45_000), None)
            if base is not None and base is not hi:
                print(
                    f"curve: peak RSS {hi['peak_rss_mb']} MB at {hi['mentions']} = "
                    f"{hi['peak_rss_mb'] / base['peak_rss_mb']:.0%} of {base['peak_rss_mb']} MB "
                    f"at {base['mentions']}; target ≤ 120 %"
                )
    print("summary: " + json.dumps(summary))
    return 0


def measure_curve(
    tmp: Path, n: int, topics: list[str], days: float, per_hour: float
) -> dict[str, Any]:
    path = tmp / f"curve-{n}.jsonl"
    generate(path, topics, days, per_hour, bursts=1)
    config = write_config(tmp / "curve.toml", topics)
    row = measure("replay", path, tmp / f"curve-{n}-out", config)
    path.unlink()  # the large files are not kept
    return row


if __name__ == "__main__":
    sys.exit(main())
