"""One evaluation of a topic with 90 days of 5-minute buckets, end to end on a database (issue #10).

    .venv/bin/python bench/eval_latency.py [--db sqlite|postgresql|both] [--runs 200] [--days 90]

Builds one topic with `--days` of 5-minute buckets on 4 platforms (~1,400 mentions a day, day
shaped, written as bucket rows with the topic's data version, as ingest leaves them) and the last
three hours as real mentions through `worker.ingest.ingest_page` (the texts an explanation
quotes). Then times `worker.pipeline.evaluate_topic` — the `detect.evaluate` job's body: data
version, bucket series, volume state, recent mentions, source health, detectors, stored signals —
inside its own transaction (open, evaluate, commit), three ways:

- `cold`: a fresh `SeriesCache` (a worker's first look at the topic after a restart; the volume
  state is already stored);
- `warm`: the same cache, each run one bucket later, after a few new mentions were ingested into
  the bucket that just completed (ingest not timed): what every live tick costs;
- `nocache`: `cache=None`, the reference path that reloads the whole 28-day window each time.

Prints the median and 95th percentile in wall time and in this thread's CPU time (on a shared
machine, quote CPU time; wall time counts other processes). Target: warm ≤ 2 ms.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import database, load, machine  # noqa: E402

STEP = 300
PLATFORMS = ("bluesky", "mastodon", "reddit", "news")
PER_DAY = 1400
T_END = datetime(2026, 6, 1, tzinfo=UTC)


def rate(at: datetime) -> float:
    """Mentions per 5-minute bucket (all platforms) at `at`: ~PER_DAY a day, busier afternoons."""
    h = at.hour + at.minute / 60
    shape = 0.35 + 0.65 * max(0.0, math.sin(math.pi * (h - 6) / 16))
    return PER_DAY / 288 * shape / 0.626


def fill(url: str, days: int) -> datetime:
    """Write the history; return the first `now` to evaluate at."""
    from sqlalchemy import insert

    from worker.config import default_config
    from worker.ingest import ingest_page
    from worker.storage.db import make_engine, make_sessionmaker
    from worker.storage.models import BucketRow, TopicState

    rng = random.Random(7)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    start = T_END - timedelta(days=days)
    recent_from = T_END - timedelta(hours=3)
    rows = []
    t = start
    while t < recent_from:
        lam = rate(t) / len(PLATFORMS)
        for p in PLATFORMS:
            c = sum(1 for _ in range(12) if rng.random() < lam / 12)
            if c:
                rows.append(
                    {
                        "topic": "acme",
                        "platform": p,
                        "start": t,
                        "count": c,
                        "texts": c,
                        "negative": c // 4,
                        "positive": c // 3,
                        "authors": c,
                        "reach": 300 * c,
                        "engagement": 2 * c,
                        "crisis_terms": 0,
                        "seq": 1,
                    }
                )
        t += timedelta(seconds=STEP)
    with sessions.begin() as s:
        for i in range(0, len(rows), 5000):
            s.execute(insert(BucketRow), rows[i : i + 5000])
        s.add(TopicState(topic="acme", version=1, evaluated_version=0, last_mention_at=t))
    config = default_config(["acme"])
    terms = config.topic("acme").detection_settings().all_crisis_terms
    k = 0
    while t < T_END:
        ms = mentions_for(rng, t, k)
        k += len(ms)
        with sessions.begin() as s:
            ingest_page(s, ms, t + timedelta(seconds=STEP), bucket_seconds=STEP, topic="acme",
                        crisis_terms=terms)  # fmt: skip
        t += timedelta(seconds=STEP)
    engine.dispose()
    print(f"  history: {len(rows)} bucket rows over {days} days, {k} recent mentions")
    return T_END + timedelta(seconds=1)


def mentions_for(rng: random.Random, at: datetime, k0: int) -> list[object]:
    from worker.model import Mention

    n = max(1, round(rate(at)))
    texts = ("Love my Acme lamp", "Acme delivery late again", "Acme support was quick", "meh")
    return [
        Mention(
            platform=rng.choice(PLATFORMS),
            id=f"m{k0 + j}",
            created_at=at + timedelta(seconds=rng.randrange(STEP)),
            text=f"{rng.choice(texts)} {k0 + j}",
            author=f"u{rng.randrange(500)}",
            topic="acme",
        )
        for j in range(n)
    ]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.thread_time()
    fn()
    return (time.perf_counter() - w) * 1000, (time.thread_time() - c) * 1000


def stats(name: str, xs: list[tuple[float, float]]) -> str:
    def q(v: list[float], p: float) -> float:
        v = sorted(v)
        return v[min(len(v) - 1, int(p * len(v)))]

    wall = [x[0] for x in xs]
    cpu = [x[1] for x in xs]
    return (
        f"  {name:<8} n={len(xs):<4} median {statistics.median(wall):7.2f} ms wall "
        f"{statistics.median(cpu):7.2f} ms cpu   p95 {q(wall, 0.95):7.2f} ms wall "
        f"{q(cpu, 0.95):7.2f} ms cpu"
    )


def bench(url: str, days: int, runs: int, profile: bool = False) -> dict[str, float]:
    from worker.config import default_config
    from worker.ingest import ingest_page
    from worker.pipeline import HISTORY, evaluate_topic
    from worker.storage.db import make_engine, make_sessionmaker
    from worker.topic_series import SeriesCache

    now = fill(url, days)
    config = default_config(["acme"])
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    def evaluate(at: datetime, cache: SeriesCache | None) -> None:
        with sessions.begin() as s:
            evaluate_topic(s, config, "acme", at, cache=cache)

    evaluate(now, SeriesCache(HISTORY))  # stores the volume state once, as a live worker has
    cold = [timed(lambda: evaluate(now, SeriesCache(HISTORY))) for _ in range(max(5, runs // 20))]
    nocache = [timed(lambda: evaluate(now, None)) for _ in range(max(5, runs // 20))]
    cache = SeriesCache(HISTORY)
    evaluate(now, cache)
    rng = random.Random(11)
    warm = []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    t = now
    k = 10_000_000
    for _ in range(runs):
        bucket = t.replace(second=0) - timedelta(minutes=t.minute % 5)
        ms = mentions_for(rng, bucket, k)
        k += len(ms)
        with sessions.begin() as s:
            ingest_page(s, ms, bucket + timedelta(seconds=STEP), bucket_seconds=STEP, topic="acme")
        t += timedelta(seconds=STEP)
        at = t
        if profiler is not None:
            profiler.enable()
        warm.append(timed(lambda at=at: evaluate(at, cache)))  # type: ignore[misc]
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    engine.dispose()
    print(stats("cold", cold))
    print(stats("nocache", nocache))
    print(stats("warm", warm))
    return {
        "cold_ms_cpu": round(statistics.median(x[1] for x in cold), 2),
        "nocache_ms_cpu": round(statistics.median(x[1] for x in nocache), 2),
        "warm_ms_cpu": round(statistics.median(x[1] for x in warm), 2),
        "warm_ms_wall": round(statistics.median(x[0] for x in warm), 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--profile", action="store_true", help="profile the warm runs (cProfile)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    summary = {}
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        print(f"{kind}: one topic, {args.days} days of 5-minute buckets, 4 platforms")
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
            summary[kind] = bench(url, args.days, args.runs, args.profile)
        summary[kind]["load"] = float(load())
    print(f"summary: {summary}  (target: warm ≤ 2 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
