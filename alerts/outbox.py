"""Delivering the outbox: pending notifications → channels, with retries, backoff and fallback.

1. Claim one due row at a time (pending, or a 'sending' lease that expired because a worker died
   mid-send) with a conditional UPDATE; a row whose incident was acknowledged or resolved after
   the row was written (a newer fence) is cancelled instead: an acknowledged incident pages nobody.
2. Send outside the transaction (a slow SMTP server never holds a database lock).
3. Record the attempt; mark sent (keeping the vendor's receipt), or back off (30 s × 2^n, at most
   15 min, never sooner than the vendor's Retry-After), or after a permanent error or the last
   attempt fall back to the person's next contact method (email, phone, Slack, Teams) not tried
   yet for this step, and after the last one to the console channel, so the page is never lost.

Delivery is at least once: a crash between sending and recording re-sends after the lease. The
lease is short (LEASE, longer than the longest send) so that redelivery comes fast, and every
notification carries a stable id (`notification_uid`) that the receiver gets on every attempt —
in a header and in the payload — so it can drop the copy.

`plan_follow_ups` writes the updates of delivered pages once their incident is acknowledged or
resolved (Slack's chat.update, PagerDuty's acknowledge/resolve), through the same outbox.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.base import (
    ACKNOWLEDGED,
    PAGE,
    RESOLVED,
    TEST,
    ChannelAdapter,
    OutgoingMessage,
    Receipt,
    TransportError,
)
from worker.config import Config
from worker.storage.models import Acknowledgement, DeliveryAttempt, Incident, Notification

MAX_ATTEMPTS = 6
#: How long a claimed row is someone's: longer than the slowest send (HTTP 10 s per phase, SMTP
#: 15 s), short enough that a page lost in a crash is re-sent within a minute.
LEASE = timedelta(seconds=60)
#: A Retry-After longer than this is not believed (a page must not wait a day).
MAX_RETRY_AFTER = timedelta(minutes=30)
#: Incidents acknowledged or resolved within this window get their delivered pages updated.
FOLLOW_UP_WINDOW = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    base = min(30 * 2 ** max(0, attempts - 1), 900)
    return timedelta(seconds=base * (0.8 + 0.4 * random.random()))


def notification_uid(idempotency_key: str, created_at: datetime) -> str:
    """The notification's stable id, the same on every attempt. The creation time keeps it
    unique across a reset database (ids and keys start again; a receiver's memory does not)."""
    digest = hashlib.sha256(f"{idempotency_key}|{created_at.isoformat()}".encode()).hexdigest()
    return f"ntf_{digest[:26]}"


def _message(n: Notification) -> OutgoingMessage:
    body = dict(n.body)
    return OutgoingMessage(
        n.id,
        n.incident_id,
        n.channel,
        n.recipient,
        n.role,
        n.address,
        n.subject,
        body,
        uid=notification_uid(n.idempotency_key, n.created_at),
        action=str(body.get("action", PAGE)),
        reply_to=body.get("reply_to"),
    )


def _due(now: datetime) -> Any:
    return or_(
        and_(
            Notification.status == "pending",
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        ),
        and_(Notification.status == "sending", Notification.next_attempt_at <= now),
    )


def _stale(n: Notification, inc: Incident | None) -> bool:
    """A page written before the incident was acknowledged or resolved is not sent any more.
    Updates (acknowledged/resolved) are written with the fence they follow, so they go."""
    return inc is not None and inc.state != "triggered" and inc.fence > n.fence


def _claim_one(
    sessions: sessionmaker[Session], now: datetime, only: int | None = None
) -> OutgoingMessage | None:
    with sessions.begin() as session:
        while True:
            q = select(Notification).where(_due(now)).order_by(Notification.id).limit(1)
            if only is not None:
                q = q.where(Notification.id == only)
            if session.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            n = session.scalars(q).first()
            if n is None:
                return None
            inc = session.get(Incident, n.incident_id) if n.incident_id else None
            if _stale(n, inc):
                assert inc is not None
                n.status, n.last_error = "cancelled", f"incident {inc.state}"
                session.flush()
                continue
            won = session.execute(
                update(Notification)
                .where(
                    Notification.id == n.id,
                    Notification.status == n.status,
                    Notification.attempts == n.attempts,
                )
                .values(status="sending", attempts=n.attempts + 1, next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                return _message(n)
            if only is not None:
                return None


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _fall_back(session: Session, n: Notification, config: Config, now: datetime) -> str | None:
    """Write the page again for the person's next contact method not tried for this step;
    return that channel's name, or None when every method was tried."""
    from alerts.channels.registry import next_contact

    tried = set(
        session.scalars(
            select(Notification.channel).where(
                Notification.incident_id == n.incident_id,
                Notification.step == n.step,
                Notification.recipient == n.recipient,
            )
        )
    )
    nxt = next_contact(config, n.recipient, tried | {n.channel})
    if nxt is None:
        return None
    channel, address = nxt
    session.execute(
        _insert(session)(Notification)
        .values(
            incident_id=n.incident_id,
            idempotency_key=f"{n.idempotency_key[:150]}>{channel}"[:200],
            step=n.step,
            fence=n.fence,
            recipient=n.recipient,
            role=n.role,
            channel=channel,
            address=address,
            subject=n.subject,
            body={**n.body, "fallback_of": n.id},
            status="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    return channel


def _record(
    sessions: sessionmaker[Session],
    channels: Mapping[str, ChannelAdapter],
    msg: OutgoingMessage,
    now: datetime,
    outcome: TransportError | None,
    receipt: Receipt | None,
    config: Config | None,
) -> bool:
    """Record one attempt and decide what comes next; True if the message got through."""
    error = str(outcome) if outcome is not None else None
    with sessions.begin() as session:
        n = session.get(Notification, msg.notification_id)
        assert n is not None
        session.add(
            DeliveryAttempt(
                notification_id=n.id, at=now, channel=msg.channel, ok=error is None, error=error
            )
        )
        if outcome is None:
            n.status, n.sent_at, n.last_error = "sent", now, None
            if receipt:
                n.receipt = dict(receipt)
            return True
        # A test (`tocsin notify test`) reports its first outcome; it is not retried later.
        if not outcome.permanent and n.attempts < MAX_ATTEMPTS and msg.action != TEST:
            wait = backoff(n.attempts)
            if outcome.retry_after:
                wait = max(wait, min(timedelta(seconds=outcome.retry_after), MAX_RETRY_AFTER))
            n.status, n.last_error, n.next_attempt_at = "pending", error, now + wait
            return False
        n.last_error, n.status = error, "failed"
        if msg.action != PAGE:
            return False  # an update or a test has nothing to fall back to: it is reported
        if config is not None and n.incident_id is not None:
            to = _fall_back(session, n, config, now)
            if to is not None:
                n.last_error = f"{error} (falling back to {to})"
                return False
        if msg.channel == "console" or "console" not in channels:
            return False
        try:
            channels["console"].send(msg)
        except Exception as exc:  # pragma: no cover - console writes a local file
            session.add(
                DeliveryAttempt(
                    notification_id=n.id, at=now, channel="console", ok=False, error=str(exc)
                )
            )
            return False
        session.add(
            DeliveryAttempt(notification_id=n.id, at=now, channel="console", ok=True, error=None)
        )
        n.status, n.sent_at = "fallback", now
        return True


def deliver(
    sessions: sessionmaker[Session],
    channels: Mapping[str, ChannelAdapter],
    msg: OutgoingMessage,
    now: datetime,
    *,
    config: Config | None = None,
) -> bool:
    """Send one claimed message and record the attempt; True if it got through."""
    adapter = channels.get(msg.channel) or channels["console"]
    outcome: TransportError | None = None
    receipt: Receipt | None = None
    try:
        receipt = adapter.send(msg)
    except TransportError as exc:
        outcome = exc
    except Exception as exc:  # a bug in a channel must not lose the page either
        outcome = TransportError(f"{exc.__class__.__name__}: {exc}")
    return _record(sessions, channels, msg, now, outcome, receipt, config)


def dispatch_due(
    sessions: sessionmaker[Session],
    channels: Mapping[str, ChannelAdapter],
    now: datetime,
    *,
    config: Config | None = None,
    limit: int = 100,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Deliver what is due, one row at a time; return how many got through (here or by the
    console fallback). `config` enables the fallback to a person's next contact method;
    `clock` (the shell's wall clock) keeps each row's lease honest in a long batch."""
    delivered = 0
    for _ in range(limit):
        at = clock() if clock else now
        msg = _claim_one(sessions, at)
        if msg is None:
            break
        delivered += deliver(sessions, channels, msg, clock() if clock else now, config=config)
    return delivered


def deliver_now(
    sessions: sessionmaker[Session],
    channels: Mapping[str, ChannelAdapter],
    notification_id: int,
    now: datetime,
    *,
    config: Config | None = None,
) -> bool | None:
    """Claim and deliver one given notification now (`tocsin notify test`); None if not due."""
    msg = _claim_one(sessions, now, only=notification_id)
    if msg is None:
        return None
    return deliver(sessions, channels, msg, now, config=config)


def plan_follow_ups(sessions: sessionmaker[Session], config: Config, now: datetime) -> int:
    """Write an update for each delivered page (on channels that can update one) of every
    incident acknowledged or resolved lately. Idempotent: each update has its own key, written
    once. Returns how many were written."""
    from alerts.channels.registry import follow_up_channels

    scopes = follow_up_channels(config)
    if not scopes:
        return 0
    written = 0
    with sessions.begin() as session:
        incidents = session.scalars(
            select(Incident).where(
                Incident.state.in_([ACKNOWLEDGED, RESOLVED]),
                Incident.updated_at >= now - FOLLOW_UP_WINDOW,
            )
        ).all()
        for inc in incidents:
            pages = session.scalars(
                select(Notification)
                .where(
                    Notification.incident_id == inc.id,
                    Notification.channel.in_(list(scopes)),
                    Notification.status == "sent",
                    Notification.receipt.is_not(None),
                )
                .order_by(Notification.id)
            ).all()
            ack = session.scalars(
                select(Acknowledgement).where(Acknowledgement.incident_id == inc.id)
            ).first()
            by = inc.acknowledged_by
            person = config.people.get(by or "")
            for page in pages:
                if page.body.get("action", PAGE) != PAGE:
                    continue
                if scopes[page.channel] == "incident":
                    key = f"inc{inc.id}:{page.channel}:{inc.state}"
                else:
                    key = f"{page.idempotency_key[:150]}:{inc.state}"
                result = session.execute(
                    _insert(session)(Notification)
                    .values(
                        incident_id=inc.id,
                        idempotency_key=key[:200],
                        step=page.step,
                        fence=inc.fence,
                        recipient=page.recipient,
                        role=page.role,
                        channel=page.channel,
                        address=page.address,
                        subject=page.subject,
                        body={
                            **page.body,
                            "action": inc.state,
                            "reply_to": page.receipt,
                            "follows": page.id,
                            "acknowledged_by": by,
                            "acknowledged_name": person.name if person else by,
                            "acknowledged_via": ack.via if ack else None,
                        },
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["idempotency_key"])
                    .returning(Notification.id)
                )
                written += len(result.all())
    return written
