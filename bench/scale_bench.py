"""1,000 topics on loopback: the poll → ingest → evaluate cycle through the job table on PostgreSQL.

    .venv/bin/python bench/scale_bench.py [--topics 1000] [--ticks 6] [--per-tick 5] [--db postgresql]

The numbers behind `docs/scale.md`. Set-up:

- a feed server in a child process on 127.0.0.1 (RSS 2.0 with strong ETags and 304s, the
  contract of `tests/fakes/rss_server.py`): one feed per topic; at tick k each feed lists the
  `--per-tick` items of tick k and those of tick k-1 (so the connector also skips seen items);
- a `tocsin.toml` with `--topics` topics, each with one RSS source polled every 5 minutes;
- a throwaway PostgreSQL database (or SQLite with `--db sqlite`).

Each tick (simulated clock, 5 minutes apart) runs the rows of `worker.jobs.JOBS` through their
functions in this process, as one worker process of each queue would, and times every job by
name: `sources.poll_due` until it claims nothing more (it claims at most 50 sources a call),
then the `sources.poll` → `ingest.page` → `detect.evaluate` → `alerts.observe` tasks they send;
then `detect.evaluate_due` (topics due with nothing new). Database work per tick comes from
PostgreSQL's own counters (`pg_stat_user_tables`, `pg_stat_database`: rows inserted, updated,
deleted, transactions), read after the tick's connections closed (so their statistics are
flushed). Tick 0 is the cold start (first look at every topic) and is shown apart.

Prints, per tick and on average over the warm ticks: mentions stored, seconds of CPU per job
name and per unit (per poll, per mention, per evaluation), and database rows/s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import database, load, machine  # noqa: E402

T0 = datetime(2027, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
TEXTS = (
    "Acme lamp works fine, happy with it",
    "Acme delivery was late again",
    "Anyone else using Acme at home?",
    "Acme support answered in five minutes",
    "Not sure about the new Acme colours",
)


# --- the feed server (a child process, so its CPU is not the worker's) ---------------------


def feed_body(topic: int, tick: int, per_tick: int) -> bytes:
    from tests.fakes.rss_server import rss_feed

    items = []
    for k in (tick - 1, tick):
        if k < 0:
            continue
        for j in range(per_tick):
            at = T0 + k * STEP + timedelta(seconds=j * 300 // max(1, per_tick))
            items.append(
                {
                    "title": f"{TEXTS[(topic + j + k) % len(TEXTS)]} #{k}.{j}",
                    "guid": f"t{topic}-{k}-{j}",
                    "link": f"http://127.0.0.1/t{topic}/{k}/{j}",
                    "pubDate": at,
                    "author": f"user{(topic * 7 + j * 13 + k) % 400}",
                }
            )
    return rss_feed(items, title=f"t{topic}")


def serve(port: Any, tick: Any, per_tick: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            topic = int(self.path.strip("/").removesuffix(".xml").removeprefix("t"))
            body = feed_body(topic, tick.value, per_tick)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


# --- database counters ------------------------------------------------------------------------


def pg_counters(url: str) -> dict[str, int]:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    ) as conn:
        ins, upd, dele = conn.execute(
            "SELECT sum(n_tup_ins), sum(n_tup_upd), sum(n_tup_del) FROM pg_stat_user_tables"
        ).fetchone()  # type: ignore[misc]
        (commits,) = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()  # type: ignore[misc]
    return {
        "inserted": int(ins or 0),
        "updated": int(upd or 0),
        "deleted": int(dele or 0),
        "commits": int(commits),
    }


# --- the cycle --------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--ticks", type=int, default=6)
    p.add_argument("--per-tick", type=int, default=5, help="new mentions per topic per tick")
    p.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")

    ctx = mp.get_context("fork")
    port, tick = ctx.Value("i", 0), ctx.Value("i", 0)
    server = ctx.Process(target=serve, args=(port, tick, args.per_tick), daemon=True)
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    try:
        with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
            rows = cycle(args, url, port.value, tick, Path(tmp))
    finally:
        server.terminate()
        server.join(timeout=10)
    warm = rows[1:] or rows
    per_job: dict[str, list[float]] = defaultdict(list)
    for r in warm:
        for name, (secs, _) in r["jobs"].items():
            per_job[name].append(secs)
    mentions = statistics.mean(r["stored"] for r in warm)
    tick_cpu = statistics.mean(r["cpu_s"] for r in warm)
    print(
        f"warm ticks: {tick_cpu:.2f} s CPU per tick for {args.topics} topics, "
        f"{mentions:.0f} mentions a tick; per job (s CPU a tick, per call):"
    )
    calls = {
        name: statistics.mean(r["jobs"].get(name, (0, 0))[1] for r in warm) for name in per_job
    }
    for name, secs in sorted(per_job.items(), key=lambda kv: -statistics.mean(kv[1])):
        c = calls[name] or 1
        print(f"  {name:<24} {statistics.mean(secs):7.3f} s  {calls[name]:7.0f} calls  "
              f"{1000 * statistics.mean(secs) / c:7.2f} ms/call")  # fmt: skip
    if "db" in warm[0]:
        db = {k: statistics.mean(r["db"][k] for r in warm) for k in warm[0]["db"]}
        print(
            "  database a tick: "
            + ", ".join(f"{v:.0f} {k}" for k, v in db.items())
            + f"; rows written: {(db['inserted'] + db['updated'] + db['deleted']) / 300:.0f}/s of"
            f" the 5-minute tick, {(db['inserted'] + db['updated'] + db['deleted']) / tick_cpu:.0f}"
            " per CPU-second of work"
        )
    summary = {
        "topics": args.topics,
        "per_tick": args.per_tick,
        "warm_tick_cpu_s": round(tick_cpu, 3),
        "mentions_per_tick": round(mentions),
        "ms_per_call": {
            n: round(1000 * statistics.mean(s) / (calls[n] or 1), 3) for n, s in per_job.items()
        },
        "load": float(load()),
    }
    print("summary: " + json.dumps(summary))
    return 0


def cycle(
    args: argparse.Namespace, url: str, port: int, tick: Any, tmp: Path
) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from worker.config import load_config
    from worker.jobs import Context, InlineQueue, run
    from worker.storage.db import make_engine, make_sessionmaker
    from worker.storage.models import MentionRow

    toml = ["[tocsin]\nbucket_minutes = 5\n"]
    for t in range(args.topics):
        toml.append(
            f'\n[[topics]]\nname = "t{t:04d}"\npoll_seconds = 300\n'
            f'[topics.queries]\nrss = ["http://127.0.0.1:{port}/t{t}.xml"]\n'
        )
    (tmp / "tocsin.toml").write_text("".join(toml), encoding="utf-8")
    config = load_config(tmp / "tocsin.toml")

    timings: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    class TimedQueue(InlineQueue):
        def drain(self) -> None:
            assert self.ctx is not None
            while self._queue:
                name, job_args, now = self._queue.popleft()
                c = time.process_time()
                run(name, self.ctx, now, *job_args)
                timings[name][0] += time.process_time() - c
                timings[name][1] += 1

    out = []
    count = select(func.count()).select_from(MentionRow)
    for k in range(args.ticks):
        tick.value = k
        now = T0 + k * STEP + timedelta(minutes=4, seconds=59)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        queue = TimedQueue()
        ctx = Context(sessions=sessions, config=config, send=queue.send, outbox_dir=tmp / "out")
        queue.ctx = ctx
        timings.clear()
        with sessions() as s:
            before = int(s.scalar(count) or 0)
        db0 = pg_counters(url) if args.db == "postgresql" else None
        c0, w0 = time.process_time(), time.perf_counter()
        while True:
            queue.send("sources.poll_due", [], now)
            sent = queue.sent.get("sources.poll", 0)
            queue.drain()
            if queue.sent.get("sources.poll", 0) == sent:
                break
        queue.send("detect.evaluate_due", [], now + timedelta(seconds=1))
        queue.drain()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        with sessions() as s:
            stored = int(s.scalar(count) or 0) - before
        engine.dispose()
        row: dict[str, Any] = {
            "tick": k,
            "stored": stored,
            "cpu_s": cpu,
            "wall_s": wall,
            "jobs": {n: (v[0], v[1]) for n, v in timings.items()},
        }
        if db0 is not None:
            time.sleep(0.5)
            db1 = pg_counters(url)
            row["db"] = {key: db1[key] - db0[key] for key in db0}
        out.append(row)
        jobs = ", ".join(
            f"{n} {v[0]:.2f}s/{v[1]}" for n, v in sorted(timings.items(), key=lambda kv: -kv[1][0])
        )
        print(
            f"tick {k}{' (cold)' if k == 0 else ''}: {stored} mentions, {cpu:.2f} s CPU, "
            f"{wall:.2f} s wall, load {load()} | {jobs}"
            + (f" | db {row['db']}" if "db" in row else ""),
            flush=True,
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
