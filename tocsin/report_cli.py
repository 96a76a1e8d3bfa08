"""`tocsin report weekly|monthly|span`: leadership's reports over the live database.

    tocsin report weekly  [--week YYYY-Www] [--topic T] --out DIR [--send] [--no-pdf]
    tocsin report monthly [--month YYYY-MM] [--topic T] --out DIR [--send] [--no-pdf]
    tocsin report span --topic T --from ISO --to ISO --out DIR [--send] [--no-pdf]

Each writes STEM.html, STEM.txt, STEM.json (and STEM.pdf) to DIR and prints their paths; with
--send, the report also goes to `[reports] recipients` through the outbox. The default week (or
month) is the last complete one in the team's zone. Exit status: 0 written, 2 bad arguments or
configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from worker.config import ConfigError
from worker.settings import SettingsError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tocsin report", description="Weekly, monthly and span reports."
    )
    sub = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, helptext in (
        ("weekly", "the weekly summary (default: last complete ISO week in the team's zone)"),
        ("monthly", "the monthly report (default: last complete month)"),
        ("span", "a campaign or post follow-up between two times"),
    ):
        s = sub.add_parser(kind, help=helptext)
        if kind == "weekly":
            s.add_argument("--week", help="ISO week, e.g. 2026-W45")
        if kind == "monthly":
            s.add_argument("--month", help="e.g. 2026-11")
        if kind == "span":
            s.add_argument(
                "--from", dest="start", required=True, help="ISO time (UTC without offset)"
            )
            s.add_argument("--to", dest="end", required=True, help="ISO time (UTC without offset)")
        s.add_argument("--topic", required=kind == "span", help="only this topic")
        s.add_argument("--out", required=True, help="directory for .html, .txt, .json, .pdf")
        s.add_argument("--send", action="store_true", help="also send to [reports] recipients")
        s.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    return p


def _time(value: str, flag: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{flag}: not an ISO time: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        return _run(args)
    except (ConfigError, SettingsError) as exc:
        print(f"tocsin report: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"tocsin report: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from alerts.reports.build import (
        build_monthly,
        build_span,
        build_weekly,
        last_complete_month,
        last_complete_week,
        write_report,
    )
    from alerts.reports.send import send_report
    from tocsin.live import ensure_database
    from worker.runtime import get_runtime, utcnow

    rt = get_runtime()
    ensure_database(rt)
    now = utcnow()
    tz = rt.config.timezone
    if args.kind == "span":
        start, end = _time(args.start, "--from"), _time(args.end, "--to")
    with rt.sessions.begin() as session:
        if args.kind == "weekly":
            report = build_weekly(
                session, rt.config, args.week or last_complete_week(now, tz), now, topic=args.topic
            )
        elif args.kind == "monthly":
            report = build_monthly(
                session,
                rt.config,
                args.month or last_complete_month(now, tz),
                now,
                topic=args.topic,
            )
        else:
            report = build_span(session, rt.config, start, end, now, topic=args.topic)
        paths = write_report(report, Path(args.out), pdf=not args.no_pdf)
        sent = send_report(session, rt.config, report, now) if args.send else 0
    for path in paths.values():
        print(path)
    print(report["summary"])
    if args.send:
        print(f"queued {sent} notification(s) for {rt.config.reports.recipients}")
    return 0
