"""One full polling cycle of 100 topics × 6 platforms against the loopback fakes.

    .venv/bin/python bench/poll_bench.py [--topics 100] [--posts 5]

Starts the Mastodon, Bluesky, Reddit, X, Hacker News and YouTube fakes of tests/fakes/ on
127.0.0.1, publishes `--posts` posts per topic on each (inside the 3-day baseline), and runs
`worker.sources.poll.poll_all` — what `tocsin poll --once` runs — over an embedded SQLite
database: every (topic, platform, query) polled until caught up, pages stored with their cursor.
Then a second cycle with nothing new (the steady state). Reports, per cycle, the wall time and
the CPU time, the requests made per platform, mentions stored, requests per mention, the health
words, and for each platform the budget used against its limit (from the fakes' own counters and
the platforms' documented limits), so that "no budget exceeded" is checked, not assumed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.hackernews_server import HackerNewsFake
from tests.fakes.mastodon_server import MastodonFake
from tests.fakes.reddit_server import RedditFake
from tests.fakes.x_server import XFake
from tests.fakes.youtube_server import YouTubeFake
from worker.config import parse_config
from worker.sources.poll import poll_all
from worker.storage.db import make_engine, make_sessionmaker, upgrade

#: Documented limits (platforms.md) for the window each fake's counter covers in one cycle.
LIMITS = {
    "mastodon": ("300 / 5 min per account", 300),
    "bluesky": ("3000 / 5 min per IP", 3000),
    "reddit": ("100 QPM averaged over 10 min", 1000),
    "x": ("450 / 15 min per app", 450),
    "hackernews": ("10,000 / hour per IP", 10_000),
    "youtube": ("100 search.list calls / day", 100),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--posts", type=int, default=5)
    args = ap.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    fakes = {
        "mastodon": MastodonFake(prefix="/m"),
        "bluesky": BlueskyFake(prefix="/b", identifier="bench.bsky.social", password="pw"),
        "reddit": RedditFake(client_id="cid", secret="cs"),
        "x": XFake(prefix="/x", token="tok"),
        "hackernews": HackerNewsFake(prefix="/h"),
        "youtube": YouTubeFake(prefix="/g", key="key"),
    }
    for f in fakes.values():
        f.start()
    try:
        for i in range(args.topics):
            word = f"brand{i:03d}"
            for k in range(args.posts):
                at = now - timedelta(hours=1 + k)
                fakes["mastodon"].add(f"<p>#{word} post {k}</p>", at=at, tags=(word,))  # type: ignore[attr-defined]
                fakes["bluesky"].add(f"{word} post {k}", at=at)  # type: ignore[attr-defined]
                fakes["reddit"].add(f"{word} post {k}", "body", at=at)  # type: ignore[attr-defined]
                fakes["x"].add(f"{word} post {k}", at=at, username=f"u{k}")  # type: ignore[attr-defined]
                fakes["hackernews"].add(f"{word} post {k}", at=at)  # type: ignore[attr-defined]
                fakes["youtube"].add(f"{word} video {k}", at=at)  # type: ignore[attr-defined]
        reddit = fakes["reddit"]
        assert isinstance(reddit, RedditFake)
        sources = f"""
[sources.mastodon]
base_url = "{fakes["mastodon"].base_url}"
[sources.bluesky]
base_url = "{fakes["bluesky"].base_url}"
identifier_env = "B_ID"
app_password_env = "B_PW"
[sources.reddit]
base_url = "{reddit.oauth_url}"
auth_url = "{reddit.auth_url}"
client_id_env = "R_ID"
client_secret_env = "R_S"
[sources.x]
base_url = "{fakes["x"].base_url}"
token_env = "X_T"
[sources.hackernews]
base_url = "{fakes["hackernews"].base_url}"
[sources.youtube]
base_url = "{fakes["youtube"].base_url}"
api_key_env = "Y_K"
"""
        topics = "\n".join(
            f'[[topics]]\nname = "t{i:03d}"\n[topics.queries]\nmastodon = ["#brand{i:03d}"]\n'
            f'bluesky = ["brand{i:03d}"]\nreddit = ["brand{i:03d}"]\nx = ["brand{i:03d}"]\n'
            f'hackernews = ["brand{i:03d}"]\nyoutube = ["brand{i:03d}"]\n'
            for i in range(args.topics)
        )
        config = parse_config(sources + topics)
        env = {
            "B_ID": "bench.bsky.social",
            "B_PW": "pw",
            "R_ID": "cid",
            "R_S": "cs",
            "X_T": "tok",
            "Y_K": "key",
        }
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            print(
                f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
                f"load {os.getloadavg()[0]:.2f}; {args.topics} topics × 6 platforms, "
                f"{args.posts} posts each"
            )
            for label, at in (
                ("first cycle (baseline)", now),
                ("second cycle (nothing new)", now + timedelta(minutes=5)),
            ):
                before = {p: len(f.requests) for p, f in fakes.items()}
                wall, cpu = time.perf_counter(), time.process_time()
                results = poll_all(sessions, config, at, env=env)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                reqs = {p: len(f.requests) - before[p] for p, f in fakes.items()}
                new = sum(r.new for r in results)
                health = Counter(r.health for r in results)
                print(f"\n## {label}")
                print(
                    f"wall {wall:.1f} s, CPU {cpu:.1f} s, {len(results)} sources, {new} new mentions"
                )
                print(f"health: {dict(health)}")
                total = sum(reqs.values())
                per = f"{total / new:.2f}" if new else "n/a"
                print(f"requests: {total} ({per} per new mention)")
                print("| platform | requests | new | budget used (cumulative) | limit |")
                print("|---|---|---|---|---|")
                for p, f in fakes.items():
                    pnew = sum(r.new for r in results if r.platform == p)
                    used = len(f.searches()) if p != "youtube" else f.search_calls  # type: ignore[attr-defined]
                    text, limit = LIMITS[p]
                    flag = "ok" if used <= limit else "EXCEEDED"
                    print(f"| {p} | {reqs[p]} | {pnew} | {used} ({flag}) | {text} |")
            engine.dispose()
    finally:
        for f in fakes.values():
            f.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
