"""`tocsin poll`, `tocsin sources` and `tocsin export`: listening, by hand.

- `tocsin poll --once [--topic T] --json` polls every (topic, platform, query) until caught up,
  stores what it finds, and prints a JSON array of `{topic, platform, query, fetched, new,
  health, detail}`. Exit 0 when every source is ok, 3 when the poll finished but some source is
  not, 2 for a usage or configuration error. It never waits for a rate-limit reset.
- `tocsin sources [--json]`: each source's health, last success, next poll, remaining budget.
- `tocsin export mentions --topic T [--since ISO] --out FILE.jsonl`: stored mentions as
  Mentions JSONL.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from worker.config import ConfigError
from worker.settings import SettingsError

NOT_OK = 3


def _runtime() -> Any:
    from tocsin.live import ensure_database
    from worker.runtime import get_runtime

    rt = get_runtime()
    ensure_database(rt)
    return rt


def _guard(func: Any, argv: Sequence[str]) -> int:
    try:
        return int(func(argv))
    except (ConfigError, SettingsError) as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2


def poll_main(argv: Sequence[str]) -> int:
    return _guard(_poll, argv)


def _poll(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tocsin poll", description="Poll every source once.")
    p.add_argument("--once", action="store_true", help="poll once until caught up, then exit")
    p.add_argument("--topic", help="only this topic's sources")
    p.add_argument("--json", action="store_true", help="print only a JSON array")
    args = p.parse_args(argv)
    if not args.once:
        p.error("only --once is supported here; `tocsin run` polls on schedule")
    from worker.runtime import utcnow
    from worker.sources.poll import poll_all

    rt = _runtime()
    if args.topic and args.topic not in rt.config.topics:
        print(f"tocsin poll: unknown topic {args.topic!r}", file=sys.stderr)
        return 2
    results = poll_all(rt.sessions, rt.config, utcnow(), topic=args.topic)
    if args.json:
        print(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            print(
                f"{r.topic:<16} {r.platform:<11} {r.health:<13} {r.new:>5} new / {r.fetched:<5} "
                f"{r.query[:40]}{'  ' + r.detail if r.detail else ''}"
            )
    return 0 if all(r.health == "ok" for r in results) else NOT_OK


def sources_main(argv: Sequence[str]) -> int:
    return _guard(_sources, argv)


def _sources(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tocsin sources", description="Health of every source.")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from worker.sources.schedule import sync_sources
    from worker.sources.status import source_rows

    rt = _runtime()
    with rt.sessions.begin() as session:
        sync_sources(session, rt.config)
    with rt.sessions() as session:
        rows = source_rows(session, rt.config)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no sources: add queries to your topics in tocsin.toml")
    for r in rows:
        budget = "" if r["budget_remaining"] is None else f" budget {r['budget_remaining']} left"
        print(
            f"{r['topic']:<16} {r['platform']:<11} {r['health'] or 'not polled':<13} "
            f"last ok {r['last_success'] or 'never'}, next {r['next_poll'] or 'soon'}{budget}"
            f"  {r['query'][:40]}"
        )
    return 0


def export_main(argv: Sequence[str]) -> int:
    return _guard(_export, argv)


def mention_line(row: Any) -> dict[str, Any]:
    """A stored mention as one line of Mentions JSONL (DESIGN.md, interchange formats)."""
    line = {
        "platform": row.platform,
        "id": row.external_id,
        "created_at": row.created_at.isoformat(),
        "text": row.text,
        "url": row.url,
        "author": row.author,
        "author_followers": row.author_followers,
        "likes": row.likes,
        "reposts": row.reposts,
        "replies": row.replies,
        "lang": None if row.lang in (None, "", "unknown") else row.lang,
        "topic": row.topic,
    }
    if row.in_reply_to:
        line["in_reply_to"] = row.in_reply_to
    return line


def _export(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tocsin export", description="Export stored data.")
    p.add_argument("what", choices=["mentions"])
    p.add_argument("--topic", required=True)
    p.add_argument("--since", help="ISO 8601 time with an offset, e.g. 2026-09-01T00:00:00+00:00")
    p.add_argument("--out", required=True, help="FILE.jsonl")
    args = p.parse_args(argv)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            p.error(f"--since: not an ISO 8601 time: {args.since!r}")
        if since.tzinfo is None:
            p.error(f"--since: {args.since!r} has no UTC offset (add +00:00)")
    from sqlalchemy import select

    from worker.storage.models import MentionRow

    rt = _runtime()
    stmt = select(MentionRow).where(MentionRow.topic == args.topic)
    if since is not None:
        stmt = stmt.where(MentionRow.created_at >= since)
    stmt = stmt.order_by(MentionRow.created_at, MentionRow.id)
    out = Path(args.out)
    n = 0
    with rt.sessions() as session, out.open("w", encoding="utf-8") as f:
        for row in session.scalars(stmt.execution_options(yield_per=1000)):
            f.write(json.dumps(mention_line(row), ensure_ascii=False) + "\n")
            n += 1
    print(f"exported {n} mentions of {args.topic} to {out}", file=sys.stderr)
    return 0
