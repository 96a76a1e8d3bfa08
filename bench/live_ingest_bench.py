"""Live ingest through a real Celery worker process on PostgreSQL + Redis, against `tocsin score-text`.

    .venv/bin/python bench/live_ingest_bench.py [--mentions 40000] [--page 100] [--task page|push]
        [--queues ingest|ingest,detect] [--redis redis://127.0.0.1:6379/8]

1. Generates a scenario (`tests.scenarios.calm_then_burst`, 4 topics) and writes its texts one a
   line; times `tocsin score-text` alone on those texts (a child process, as a user runs it;
   CPU time from `RUSAGE_CHILDREN`).
2. Creates a throwaway PostgreSQL database (127.0.0.1:5432), migrates it, and empties the Redis
   database given (`flushdb`; the bench owns it for the run).
3. Publishes every page as a task on the broker before the worker starts, so the worker never
   waits for work: `ingest.page` (a source's page, as `sources.poll` hands it on: cursor check,
   source health, a `source_polls` row) or `ingest.push` (mentions handed over without a source).
4. Starts one `celery worker -P solo` process (one process, one core) on the given queues, and
   counts the stored mentions in the database every 0.2 s. The rate is measured from the first
   stored row to the last (worker start-up excluded), in wall time and in the worker's own CPU
   time (read from /proc, so it does not count other processes on a shared machine).
5. Stops the worker, drops the database, flushes the Redis database.

With `--queues ingest` the `detect.evaluate` tasks each ingest sends wait in Redis unconsumed
(ingest alone is measured); `--queues ingest,detect` measures the listening side as a whole.
Targets (issue #10): ≥ 2,000 mentions/s per worker process, ≥ 30 % of score-text's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import load, machine, throwaway_postgres  # noqa: E402

TOPICS = ["acme", "globex", "initech", "umbrella"]
CONFIG = "[tocsin]\nbucket_minutes = 5\n" + "".join(
    f'\n[[topics]]\nname = "{t}"\n[topics.queries]\nrss = ["http://127.0.0.1:9/{t}.xml"]\n'
    for t in TOPICS
)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _score_text(texts: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `tocsin score-text` run over `texts`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with texts.open("rb") as stdin:
        subprocess.run(
            [sys.executable, "-m", "tocsin.cli", "score-text"],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            check=True,
            cwd=ROOT,
        )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def score_text_rate(texts: Path, n: int) -> dict[str, float]:
    """score-text's rate, its start-up (a run over one text) taken out, as the worker's is."""
    wall, cpu = _score_text(texts)
    one = texts.with_name("one.txt")
    one.write_text(texts.read_text(encoding="utf-8").split("\n", 1)[0] + "\n", encoding="utf-8")
    wall0, cpu0 = _score_text(one)
    return {
        "per_s_wall": round(n / max(1e-9, wall - wall0)),
        "per_s_cpu": round(n / max(1e-9, cpu - cpu0)),
        "with_startup_per_s_cpu": round(n / cpu),
        "startup_cpu_s": round(cpu0, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mentions", type=int, default=40_000)
    p.add_argument("--page", type=int, default=100, help="mentions per task")
    p.add_argument("--task", choices=("page", "push"), default="page")
    p.add_argument("--queues", default="ingest")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")

    import redis

    from tests.scenarios import calm_then_burst

    with tempfile.TemporaryDirectory(prefix="tocsin-live-bench-") as tmp_name:
        tmp = Path(tmp_name)
        scenario = tmp / "mentions.jsonl"
        days = args.mentions / (len(TOPICS) * 24 * 40 * 0.626)
        calm_then_burst(scenario, TOPICS, days=days, per_hour=40)
        lines = [json.loads(line) for line in scenario.open(encoding="utf-8")]
        lines = lines[: args.mentions]
        n = len(lines)
        texts = tmp / "texts.txt"
        texts.write_text(
            "".join(str(r["text"]).replace("\n", " ") + "\n" for r in lines), encoding="utf-8"
        )
        score = score_text_rate(texts, n)
        print(
            f"score-text alone   {n:>7} texts  {score['per_s_wall']:>6}/s wall  "
            f"{score['per_s_cpu']:>6}/s cpu  load {load()}",
            flush=True,
        )
        (tmp / "tocsin.toml").write_text(CONFIG, encoding="utf-8")
        client = redis.Redis.from_url(args.redis)
        client.flushdb()
        with throwaway_postgres("tocsin_live_bench") as db_url:
            try:
                live = run_worker(args, tmp, db_url, lines)
            finally:
                client.flushdb()
                client.close()
    ratio_cpu = live["per_s_cpu"] / score["per_s_cpu"]
    ratio_wall = live["per_s_wall"] / score["per_s_wall"]
    print(
        f"celery {args.task:<5} [{args.queues}] {n:>7} mentions  {live['per_s_wall']:>6}/s wall  "
        f"{live['per_s_cpu']:>6}/s cpu  load {live['load']}"
    )
    print(
        f"ratio to score-text: {ratio_cpu:.0%} (cpu), {ratio_wall:.0%} (wall); "
        "targets ≥ 2,000/s and ≥ 30 %"
    )
    summary = {"mentions": n, "score_text": score, "live": live, "ratio_cpu": round(ratio_cpu, 3)}
    print("summary: " + json.dumps(summary))
    return 0


def run_worker(
    args: argparse.Namespace, tmp: Path, db_url: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    from sqlalchemy import func, select

    from worker.celery_app import app, configure
    from worker.model import Page
    from worker.serialize import mention_from_json, page_to_json
    from worker.settings import load_settings
    from worker.storage.db import make_engine, make_sessionmaker
    from worker.storage.models import MentionRow, Source

    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_BROKER_URL": args.redis,
        "TOCSIN_CONFIG": str(tmp / "tocsin.toml"),
        "TOCSIN_DATA_DIR": str(tmp / "data"),
        "TOCSIN_SECRET_KEY": "bench-secret-0123456789",
    }
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        sources = {}
        for t in TOPICS:
            src = Source(
                topic=t,
                platform="rss",
                query=f"http://127.0.0.1:9/{t}.xml",
                cursor={},
                enabled=True,
            )
            s.add(src)
            s.flush()
            sources[t] = src.id
    old = {k: os.environ.get(k) for k in ("TOCSIN_BROKER_URL", "TOCSIN_DATABASE_URL")}
    os.environ.update({"TOCSIN_BROKER_URL": args.redis, "TOCSIN_DATABASE_URL": db_url})
    try:
        configure(load_settings())
        # Pages per topic, in time order, each with the cursor the previous one left.
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for r in lines:
            by_topic.setdefault(str(r["topic"]), []).append(r)
        now = datetime(2027, 1, 1, tzinfo=UTC)
        published = 0
        for topic, rows in by_topic.items():
            cursor: dict[str, Any] = {}
            for i in range(0, len(rows), args.page):
                chunk = rows[i : i + args.page]
                at = (now + timedelta(seconds=published)).isoformat()
                if args.task == "page":
                    new_cursor = {"page": i // args.page + 1}
                    page = Page([mention_from_json(m) for m in chunk], new_cursor)
                    app.send_task(
                        "ingest.page",
                        args=[sources[topic], page_to_json(page), cursor],
                        kwargs={"now": at},
                    )
                    cursor = new_cursor
                else:
                    app.send_task("ingest.push", args=[{topic: chunk}], kwargs={"now": at})
                published += 1
        print(f"  published {published} {args.task} tasks of ≤ {args.page} mentions", flush=True)
        log = (tmp / "worker.log").open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.celery_worker",
                "worker",
                "-P",
                "solo",
                "-Q",
                args.queues,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        count = select(func.count()).select_from(MentionRow)
        first: tuple[float, float, int] | None = None
        last: tuple[float, float, int] | None = None
        deadline = time.monotonic() + args.timeout
        load_start = ""
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise SystemExit(f"worker exited with {proc.returncode}: see {log.name}")
                with sessions() as s:
                    stored = int(s.scalar(count) or 0)
                if stored and first is None:
                    first = (time.perf_counter(), cpu_of(proc.pid), stored)
                    load_start = load()
                if stored >= len(lines):
                    last = (time.perf_counter(), cpu_of(proc.pid), stored)
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            engine.dispose()
        if first is None or last is None:
            raise SystemExit(f"timed out: see {log.name}")
        done = last[2] - first[2]
        wall, cpu = last[0] - first[0], last[1] - first[1]
        return {
            "per_s_wall": round(done / wall),
            "per_s_cpu": round(done / cpu),
            "measured_mentions": done,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "load": f"{load_start}→{load()}",
        }
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


if __name__ == "__main__":
    sys.exit(main())
