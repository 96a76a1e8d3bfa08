"""`tocsin prune --older-than 90d [--dry-run] [--batch N]`: apply the retention to the live database.

Deletes mentions, source polls, signals not tied to an open incident, and the bodies of delivered
notifications of long-resolved incidents, older than the cut-off; keeps buckets (see
`worker.storage.retention`). Prints one line saying what it removed. A bad duration, or one
shorter than the detectors' history, is a one-line error with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO


def prune_main(
    argv: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    p = argparse.ArgumentParser(
        prog="tocsin prune",
        description="Delete mentions and other rows older than a cut-off; buckets are kept.",
    )
    p.add_argument(
        "--older-than", required=True, metavar="DURATION", help="e.g. 90d, 12w (at least 28d)"
    )
    p.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    p.add_argument("--batch", type=int, default=5000, help="rows per DELETE statement")
    args = p.parse_args(list(argv))

    from worker.storage.retention import DurationError, parse_duration, prune

    try:
        older_than = parse_duration(args.older_than)
    except DurationError as exc:
        print(f"tocsin prune: --older-than: {exc}", file=err)
        return 2
    if args.batch < 1:
        print("tocsin prune: --batch: must be at least 1", file=err)
        return 2

    from worker.runtime import utcnow
    from worker.settings import SettingsError, load_settings
    from worker.storage.db import make_engine, make_sessionmaker

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"tocsin prune: {exc}", file=err)
        return 2
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                result = prune(
                    session,
                    utcnow(),
                    older_than,
                    batch=args.batch,
                    dry_run=args.dry_run,
                    on_batch=session.commit,
                )
            except ValueError as exc:
                print(f"tocsin prune: --older-than: {exc}", file=err)
                return 2
            session.commit()
    finally:
        engine.dispose()
    verb = "would delete" if result.dry_run else "deleted"
    print(
        f"{verb} rows older than {result.cutoff.isoformat(timespec='seconds')}: "
        f"{result.mentions} mentions, {result.source_polls} source polls, "
        f"{result.signals} signals, {result.notification_bodies} notification bodies emptied; "
        f"{result.buckets_kept} buckets kept",
        file=out,
    )
    return 0
