"""Delivering the outbox: pending notifications → channels, with retries, backoff and fallback.

1. Claim due rows (pending, or a 'sending' lease that expired because a worker died mid-send)
   with a conditional UPDATE; a row whose incident was acknowledged or resolved after the row was
   written (a newer fence) is cancelled instead: an acknowledged incident pages nobody.
2. Send outside the transaction (a slow SMTP server never holds a database lock).
3. Record the attempt; mark sent, or back off (30 s × 2^n, at most 15 min), or after a permanent
   error or the last attempt, deliver through the console channel so the page is never lost.
Delivery is at least once: a crash between sending and recording re-sends after the lease.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.base import ChannelAdapter, OutgoingMessage, TransportError
from worker.storage.models import DeliveryAttempt, Incident, Notification

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    base = min(30 * 2 ** max(0, attempts - 1), 900)
    return timedelta(seconds=base * (0.8 + 0.4 * random.random()))


def _message(n: Notification) -> OutgoingMessage:
    return OutgoingMessage(
        n.id, n.incident_id, n.channel, n.recipient, n.role, n.address, n.subject, dict(n.body)
    )


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int) -> list[OutgoingMessage]:
    claimed = []
    with sessions.begin() as session:
        q = (
            select(Notification)
            .where(
                or_(
                    and_(
                        Notification.status == "pending",
                        or_(
                            Notification.next_attempt_at.is_(None),
                            Notification.next_attempt_at <= now,
                        ),
                    ),
                    and_(Notification.status == "sending", Notification.next_attempt_at <= now),
                )
            )
            .order_by(Notification.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for n in session.scalars(q).all():
            inc = session.get(Incident, n.incident_id) if n.incident_id else None
            if inc is not None and inc.state != "triggered" and inc.fence > n.fence:
                n.status, n.last_error = "cancelled", f"incident {inc.state}"
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
                claimed.append(_message(n))
    return claimed


def dispatch_due(
    sessions: sessionmaker[Session],
    channels: Mapping[str, ChannelAdapter],
    now: datetime,
    *,
    limit: int = 100,
) -> int:
    """Deliver what is due; return how many notifications were delivered (here or by fallback)."""
    delivered = 0
    for msg in _claim(sessions, now, limit):
        adapter = channels.get(msg.channel) or channels["console"]
        error: str | None = None
        permanent = False
        try:
            adapter.send(msg)
        except TransportError as exc:
            error, permanent = str(exc), exc.permanent
        except Exception as exc:  # a bug in a channel must not lose the page either
            error = f"{exc.__class__.__name__}: {exc}"
        with sessions.begin() as session:
            n = session.get(Notification, msg.notification_id)
            assert n is not None
            session.add(
                DeliveryAttempt(
                    notification_id=n.id, at=now, channel=msg.channel, ok=error is None, error=error
                )
            )
            if error is None:
                n.status, n.sent_at, n.last_error = "sent", now, None
                delivered += 1
            elif not permanent and n.attempts < MAX_ATTEMPTS:
                n.status, n.last_error = "pending", error
                n.next_attempt_at = now + backoff(n.attempts)
            else:
                n.last_error = error
                n.status = "failed"
                if msg.channel != "console" and "console" in channels:
                    try:
                        channels["console"].send(msg)
                    except Exception as exc:  # pragma: no cover - console writes a local file
                        session.add(
                            DeliveryAttempt(
                                notification_id=n.id,
                                at=now,
                                channel="console",
                                ok=False,
                                error=str(exc),
                            )
                        )
                    else:
                        session.add(
                            DeliveryAttempt(
                                notification_id=n.id, at=now, channel="console", ok=True, error=None
                            )
                        )
                        n.status, n.sent_at = "fallback", now
                        delivered += 1
    return delivered
