"""Retention: delete what is older than a cut-off, keep the history the detectors need.

`prune(session, now, older_than)` removes, for everything older than `now - older_than`:

1. **mentions** (the bulk of the database, and the texts people wrote): deleted per topic, in
   batches, through the `(topic, created_at)` index, so a batch never scans the whole table;
2. **source_polls** (one row per poll of a source: the proof of watch of old weeks);
3. **signals** not attached to an incident that is still open (an open incident's signals are
   its evidence, whatever their age);
4. the **bodies of notifications** already delivered (or given up on) for incidents resolved
   before the cut-off: the body repeats mention texts and is needed only to send the message;
   the row itself (who was told, when, on which channel) stays as the incident's record.

It **keeps** buckets and the volume detector's state (the counts the detectors, the weekly
report and `backtest` read; a few hundred bytes per topic and platform per bucket), incidents,
their timelines, acknowledgements and delivery attempts.

Why a floor (`MIN_OLDER_THAN`): ingest recounts a bucket from the stored mentions when a late
mention lands in it. A bucket inside the detectors' history whose mentions were pruned would be
recounted from the late mention alone, and its count would drop. Keeping mentions at least as
long as that history (28 days) keeps every bucket a late mention can still reach recountable.

Each batch is one statement; `on_batch` (the CLI passes `session.commit`) is called after each
so that a prune of millions of rows holds its locks for one batch at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from worker.storage.models import (
    BucketRow,
    Incident,
    MentionRow,
    Notification,
    PollRow,
    SignalRow,
    TopicState,
)

#: Mentions are kept at least as long as the detectors' history (`worker.pipeline.HISTORY`).
MIN_OLDER_THAN = timedelta(days=28)
BATCH = 5000

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


class DurationError(ValueError):
    """A duration that cannot be read; the message says what is accepted."""


def parse_duration(text: str) -> timedelta:
    """'90d', '12w', '36h', '30m', '45s' → timedelta; anything else raises DurationError."""
    match = _DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise DurationError(
            f"{text!r} is not a duration (a positive whole number and a unit: 90d, 12w, 36h)"
        )
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    mentions: int
    source_polls: int
    signals: int
    notification_bodies: int
    #: Bucket rows left, counted after the prune (they are never deleted).
    buckets_kept: int
    dry_run: bool = False


def _topics(session: Session) -> list[str]:
    """Every topic that may have rows: `topic_state` has one row per topic with data (ingest
    creates it; migration 0006 filled it from the buckets), sources name the configured ones."""
    from worker.storage.models import Source

    names = set(session.scalars(select(TopicState.topic)))
    names.update(session.scalars(select(Source.topic).distinct()))
    return sorted(names)


def _delete_batches(
    session: Session,
    table: Any,
    where: Any,
    batch: int,
    on_batch: Callable[[], None] | None,
) -> int:
    """DELETE … WHERE id IN (SELECT id … WHERE `where` LIMIT batch) until nothing is left."""
    total = 0
    while True:
        ids = select(table.c.id).where(where).limit(batch).scalar_subquery()
        result = session.execute(
            delete(table).where(table.c.id.in_(ids)).execution_options(synchronize_session=False)
        )
        n = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += n
        if on_batch is not None:
            on_batch()
        if n < batch:
            return total


def prune(
    session: Session,
    now: datetime,
    older_than: timedelta,
    *,
    batch: int = BATCH,
    dry_run: bool = False,
    on_batch: Callable[[], None] | None = None,
) -> PruneResult:
    """Delete what is older than `now - older_than` (see the module docstring); return counts.

    `dry_run` counts what would go and changes nothing. Raises ValueError when `older_than` is
    shorter than `MIN_OLDER_THAN`.
    """
    if older_than < MIN_OLDER_THAN:
        raise ValueError(
            f"must be at least {MIN_OLDER_THAN.days}d: mentions inside the detectors' history "
            "are needed to recount a bucket when a late mention arrives"
        )
    cutoff = now - older_than
    m, p, s = MentionRow.__table__, PollRow.__table__, SignalRow.__table__
    topics = _topics(session)
    open_incidents = select(Incident.id).where(Incident.state != "resolved")
    old_signal = and_(
        s.c.at < cutoff,
        or_(s.c.incident_id.is_(None), s.c.incident_id.not_in(open_incidents)),
    )
    resolved_before = select(Incident.id).where(
        Incident.state == "resolved", Incident.resolved_at < cutoff
    )
    n = Notification.__table__
    old_body = and_(
        n.c.incident_id.in_(resolved_before),
        n.c.status.not_in(("pending", "sending")),
        cast(n.c.body, Text) != "{}",
    )

    if dry_run:

        def count(table: Any, where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(table).where(where)) or 0)

        mentions = sum(count(m, and_(m.c.topic == t, m.c.created_at < cutoff)) for t in topics)
        polls = sum(count(p, and_(p.c.topic == t, p.c.at < cutoff)) for t in topics)
        signals, bodies = count(s, old_signal), count(n, old_body)
    else:
        mentions = sum(
            _delete_batches(
                session, m, and_(m.c.topic == t, m.c.created_at < cutoff), batch, on_batch
            )
            for t in topics
        )
        polls = sum(
            _delete_batches(session, p, and_(p.c.topic == t, p.c.at < cutoff), batch, on_batch)
            for t in topics
        )
        signals = _delete_batches(session, s, old_signal, batch, on_batch)
        result = session.execute(
            update(Notification)
            .where(old_body)
            .values(body={})
            .execution_options(synchronize_session=False)
        )
        bodies = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if on_batch is not None:
            on_batch()
    kept = int(session.scalar(select(func.count()).select_from(BucketRow)) or 0)
    return PruneResult(cutoff, mentions, polls, signals, bodies, kept, dry_run)
