"""`tocsin notify test --channel NAME --to PERSON`: send a test message through the real outbox
and channel, and print the outcome.

The message is sent by `alerts.notify_test.send_test` (the dashboard's Settings page uses it too):
a notification row like any page, delivered by the outbox's own code, the attempt recorded. Exit 0 delivered,
1 refused or failed (the vendor's reason is printed), 2 a usage or configuration problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tocsin notify", description="Notifications by hand.")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = sub.add_parser("test", help="send a test message to a person through one channel")
    t.add_argument("--channel", required=True, help="a channel name from [channels]")
    t.add_argument("--to", required=True, metavar="PERSON", help="a person id from [people]")
    return p


def notify_main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    from alerts.notify_test import send_test
    from tocsin.live import ensure_database
    from worker.config import ConfigError
    from worker.runtime import get_runtime, utcnow
    from worker.settings import SettingsError

    try:
        rt = get_runtime()
        ensure_database(rt)
    except (ConfigError, SettingsError) as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    try:
        out = send_test(rt, args.channel, args.to, utcnow())
    except ValueError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    if out.ok:
        print(
            f"{out.channel} → {out.person} ({out.address}): delivered "
            f"(notification {out.notification_id})"
        )
        return 0
    print(
        f"{out.channel} → {out.person} ({out.address}): {out.status}: {out.error}", file=sys.stderr
    )
    return 1
