"""A test message to one person through one channel: a notification row like any page (no
incident), claimed and delivered by the outbox's own code, so the attempt is recorded; it is not
retried later. Used by `tocsin notify test` and the dashboard's Settings page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from worker.runtime import Runtime
from worker.storage.models import Notification


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    channel: str
    person: str
    address: str
    status: str
    error: str | None
    notification_id: int


def send_test(rt: Runtime, channel: str, person_id: str, now: datetime) -> TestOutcome:
    """Send the test now; ValueError (naming what is wrong) for an unknown channel or person, or
    a person without an address on that channel."""
    from alerts.channels import address_for, build_channels
    from alerts.outbox import deliver_now

    config = rt.config
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels))
        raise ValueError(f"unknown channel {channel!r} (configured: {known})")
    person = config.people.get(person_id)
    if person is None:
        raise ValueError(f"unknown person {person_id!r} (define [people.{person_id}])")
    address = address_for(config, person, channel)
    if address is None:
        raise ValueError(
            f"{person.id} has no address on {channel} "
            f"(a {config.channels[channel].type} channel): add it to [people.{person.id}]"
        )
    with rt.sessions.begin() as session:
        n = Notification(
            incident_id=None,
            idempotency_key=f"test:{channel}:{person.id}:{now.isoformat()}:{secrets.token_hex(4)}"[
                :200
            ],
            step=0,
            fence=0,
            recipient=person.id,
            role="test",
            channel=channel,
            address=address,
            subject=f"tocsin test: {channel} reaches {person.name}",
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
    return TestOutcome(bool(ok), channel, person.id, address, status, error, nid)


__all__ = ["TestOutcome", "send_test"]
