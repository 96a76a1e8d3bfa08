"""The dashboard's reads on a month of buckets (PostgreSQL or SQLite): the overview's cards (what
the live script fetches every 5 s per open tab) and a topic's 30-day chart.

The overview is timed twice on the same data: as the web app reads it (one grouped bucket query
for every card) and the way it read before (one bucket query per topic), for a before/after in
the same run.

    .venv/bin/python bench/dashboard_bench.py [--db postgresql|sqlite] [--topics 20] [--runs 10]

Set-up: a throwaway database migrated to head; `--topics` topics × 8 platforms × 35 days of
5-minute buckets (about 80,000 bucket rows per topic), written with one batched insert; no
mention rows (the overview and the chart read only buckets). Each case runs in a fresh session:
2 warm-up rounds, then `--runs` timed rounds (wall clock, this process and the server together);
prints median and p95. The numbers behind docs/benchmarks.md ("Dashboard").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import database, load, machine  # noqa: E402

NOW = datetime(2026, 11, 6, 18, 0, tzinfo=UTC)
PLATFORMS = ("bluesky", "mastodon", "reddit", "x", "hackernews", "youtube", "rss", "appstore")
DAYS = 35


def fill(url: str, topics: int) -> int:
    from sqlalchemy import insert

    from worker.storage.db import make_engine
    from worker.storage.models import BucketRow

    engine = make_engine(url)
    start = NOW - timedelta(days=DAYS)
    slots = DAYS * 24 * 12
    written = 0
    with engine.begin() as conn:
        for t in range(topics):
            rows = []
            for p, platform in enumerate(PLATFORMS):
                for k in range(slots):
                    count = (k * 7 + p * 3 + t) % 5
                    if count:
                        rows.append(
                            {
                                "topic": f"t{t}",
                                "platform": platform,
                                "start": start + timedelta(minutes=5 * k),
                                "count": count,
                                "texts": count,
                                "negative": count // 3,
                                "positive": count // 2,
                                "authors": count,
                                "reach": 10 * count,
                                "engagement": count,
                                "crisis_terms": 0,
                                "seq": 1,
                            }
                        )
            conn.execute(insert(BucketRow), rows)
            written += len(rows)
    engine.dispose()
    return written


def timed(fn: object, runs: int) -> tuple[float, float]:
    for _ in range(2):
        fn()  # type: ignore[operator]
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(1000 * (time.perf_counter() - t0))
    samples.sort()
    return statistics.median(samples), samples[max(0, int(0.95 * len(samples)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--topics", type=int, default=20)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from alerts.dashboard.overview import day_series, topic_cards
    from alerts.dashboard.series import SPANS, Series, series
    from worker.config import default_config
    from worker.storage.db import make_engine, make_sessionmaker
    from worker.storage.models import BucketRow

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
        t0 = time.perf_counter()
        n = fill(url, args.topics)
        print(
            f"{args.db}: {n:,} bucket rows for {args.topics} topics in {time.perf_counter() - t0:.1f} s"
        )
        config = default_config([f"t{t}" for t in range(args.topics)])
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)

        def overview() -> None:
            with sessions() as s:
                cards = topic_cards(s, config, NOW)
                assert len(cards) == args.topics

        def per_topic(s: Session, now: datetime) -> tuple[dict[str, Series], set[str]]:
            recent = set(
                s.scalars(
                    select(BucketRow.topic)
                    .distinct()
                    .where(BucketRow.start >= now - timedelta(days=1))
                )
            )
            names = set(config.topics) | recent
            return {t: day_series(s, t, now) for t in names}, recent

        def overview_per_topic() -> None:  # before: one bucket query per topic
            with sessions() as s:
                cards = topic_cards(s, config, NOW, per_topic)
                assert len(cards) == args.topics

        from alerts.dashboard.overview import SeriesCache

        kept = SeriesCache()

        def overview_kept() -> None:  # what a second tab (or tick) in the same minute costs
            with sessions() as s:
                topic_cards(s, config, NOW, kept)

        def chart(span: str) -> object:
            def run() -> None:
                length, step = SPANS[span]
                with sessions() as s:
                    series(s, "t0", NOW, length, step, align=True)

            return run

        for name, fn in (
            (f"overview ({args.topics} cards)", overview),
            ("overview, query per topic", overview_per_topic),
            ("overview, same minute", overview_kept),
            ("topic chart 24h", chart("24h")),
            ("topic chart 7d", chart("7d")),
            ("topic chart 30d", chart("30d")),
        ):
            median, p95 = timed(fn, args.runs)
            print(f"  {name:<26} median {median:7.1f} ms   p95 {p95:7.1f} ms")
        engine.dispose()
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
