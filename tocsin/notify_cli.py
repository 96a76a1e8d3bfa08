"""`tocsin notify test --channel NAME --to PERSON`: send a test message through the real outbox
and channel, and print the outcome.

The message is a notification row like any page (no incident), claimed and delivered by the
outbox's own code, so the attempt is recorded; it is not retried later. Exit 0 delivered,
1 refused or failed (the vendor's reason is printed), 2 a usage or configuration problem.
"""

from __future__ import annotations

import argparse
import secrets
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
    from alerts.channels import address_for, build_channels
    from alerts.outbox import deliver_now
    from tocsin.live import ensure_database
    from worker.config import ConfigError
    from worker.runtime import get_runtime, utcnow
    from worker.settings import SettingsError
    from worker.storage.models import Notification

    try:
        rt = get_runtime()
        ensure_database(rt)
    except (ConfigError, SettingsError) as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    config = rt.config
    if args.channel not in config.channels:
        known = ", ".join(sorted(config.channels))
        print(f"tocsin: unknown channel {args.channel!r} (configured: {known})", file=sys.stderr)
        return 2
    person = config.people.get(args.to)
    if person is None:
        print(f"tocsin: unknown person {args.to!r} (define [people.{args.to}])", file=sys.stderr)
        return 2
    address = address_for(config, person, args.channel)
    if address is None:
        print(
            f"tocsin: {person.id} has no address on {args.channel} "
            f"(a {config.channels[args.channel].type} channel): add it to [people.{person.id}]",
            file=sys.stderr,
        )
        return 2
    now = utcnow()
    with rt.sessions.begin() as session:
        n = Notification(
            incident_id=None,
            idempotency_key=f"test:{args.channel}:{person.id}:{now.isoformat()}:{secrets.token_hex(4)}"[
                :200
            ],
            step=0,
            fence=0,
            recipient=person.id,
            role="test",
            channel=args.channel,
            address=address,
            subject=f"tocsin test: {args.channel} reaches {person.name}",
            body={
                "action": "test",
                "title": f"Test message for {person.name}",
                "severity": 4,
                "recipient_name": person.name,
                "explanations": [
                    "This is a test from tocsin: this channel reaches you. Nothing to do."
                ],
            },
            status="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(n)
        session.flush()
        nid = n.id
    channels = build_channels(config, rt.outbox_dir)
    ok = deliver_now(rt.sessions, channels, nid, now, config=config)
    with rt.sessions() as session:
        row = session.get(Notification, nid)
        assert row is not None
        status, error = row.status, row.last_error
    if ok:
        print(f"{args.channel} → {person.id} ({address}): delivered (notification {nid})")
        return 0
    print(f"{args.channel} → {person.id} ({address}): {status}: {error}", file=sys.stderr)
    return 1
