"""The durable polling schedule of sources: a column per source, claimed by a short beat tick.

- `sync_sources`: make the sources table match the topics' queries in tocsin.toml.
- `claim_due_sources`: claim sources whose poll is due. Each source has a fixed *phase* inside
  its interval (a hash of topic, platform and query), so 100 topics polled every 5 minutes are
  spread over the 5 minutes instead of all firing at :00. A source on a budget tocsin keeps itself
  (YouTube's 100 searches a day) is polled no more often than its share of that budget allows.
- `record_poll_success` / `record_poll_failure`: one `source_polls` row per poll with its health
  word, the source's health, and its next poll (after the reset for a rate limit).
- `source_health`: platform → healthy, what silence detection uses to tell a broken source from
  a quiet topic.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from worker.config import Config
from worker.sources.base import AUTH_FAILED, OK, RATE_LIMITED, Query
from worker.storage.models import PollRow, Source

#: A source is shown as down (source_down instead of silence) after this many failed polls in a
#: row; one transient failure is noise. An auth failure counts as down at once.
DOWN_AFTER = 3


def sync_sources(session: Session, config: Config) -> list[int]:
    """Insert a source row per (topic, platform, query) in the config; disable the rest."""
    wanted = {
        (t.name, platform, q)
        for t in config.topics.values()
        for platform, queries in t.queries.items()
        for q in queries
    }
    existing = {(s.topic, s.platform, s.query): s for s in session.scalars(select(Source))}
    for key, source in existing.items():
        source.enabled = key in wanted
    for topic, platform, query in sorted(wanted - existing.keys()):
        session.add(Source(topic=topic, platform=platform, query=query, cursor={}, enabled=True))
    session.flush()
    return [s.id for s in session.scalars(select(Source).where(Source.enabled.is_(True)))]


def enabled_sources(session: Session) -> int:
    """How many sources are enabled (one cheap question before `sync_sources`)."""
    return int(session.execute(select(func.count()).where(_S.enabled.is_(True))).scalar_one())


def phase_of(topic: str, platform: str, query: str, interval: float) -> float:
    """A stable offset in [0, interval) for one source, so polls spread over the interval."""
    h = zlib.crc32(f"{topic}\x00{platform}\x00{query}".encode())
    return (h % 1_000_003) / 1_000_003 * interval


def next_slot(now: datetime, interval: float, phase: float) -> datetime:
    """The first time after `now` that is `phase` seconds into an interval (epoch-aligned)."""
    t = now.timestamp()
    k = (t - phase) // interval + 1
    return datetime.fromtimestamp(phase + k * interval, UTC)


def _budget(config: Config, s: Source) -> Any:
    from worker.sources import CONNECTORS
    from worker.sources.settings import context_for

    budget_of = getattr(CONNECTORS.get(s.platform), "budget", None)
    if budget_of is None:
        return None
    return budget_of(Query(s.topic, s.platform, s.query), context_for(config, s.platform))


def poll_intervals(session: Session, config: Config, sources: list[Source]) -> dict[int, float]:
    """Seconds between polls of each source: the topic's `poll_seconds`, stretched where a
    budget tocsin keeps itself would not last (each source gets its share of the window).

    Only the sources on such a budget (YouTube, Hacker News) look at the others sharing it, and
    only on their own platform, so a tick costs what it claims, not the whole table."""
    budgets = {s.id: _budget(config, s) for s in sources}
    kept = {b.key for b in budgets.values() if b is not None and b.limit and b.window}
    sharing: Counter[str] = Counter()
    if kept:
        platforms = {s.platform for s in sources if budgets[s.id] is not None}
        for other in session.scalars(
            select(Source).where(Source.enabled.is_(True), Source.platform.in_(platforms))
        ):
            b = _budget(config, other)
            if b is not None and b.key in kept:
                sharing[b.key] += 1
    out = {}
    for s in sources:
        interval = float(config.topic(s.topic).poll_seconds)
        b = budgets.get(s.id)
        if b is not None and b.key in kept and b.window_seconds:
            interval = max(interval, b.window_seconds * max(1, sharing[b.key]) / b.limit)
        out[s.id] = interval
    return out


def claim_due_sources(
    session: Session, config: Config, now: datetime, *, limit: int = 50
) -> list[int]:
    """Claim sources whose poll is due by pushing `next_poll_at` to their next slot.

    The conditional UPDATE is the claim: of two beat ticks racing, only the one whose UPDATE changed
    the row enqueues the poll, so a source is never polled twice for the same slot. A source never
    polled gets its first slot (somewhere in the coming interval) instead of firing at once.
    """
    new = session.scalars(
        select(Source).where(Source.enabled.is_(True), Source.next_poll_at.is_(None))
    ).all()
    due = session.scalars(
        select(Source)
        .where(Source.enabled.is_(True), Source.next_poll_at <= now)
        .order_by(Source.next_poll_at)
        .limit(limit)
    ).all()
    intervals = poll_intervals(session, config, [*new, *due])
    for s in new:
        interval = intervals[s.id]
        first = next_slot(now, interval, phase_of(s.topic, s.platform, s.query, interval))
        session.execute(
            update(Source)
            .where(Source.id == s.id, Source.next_poll_at.is_(None))
            .values(next_poll_at=first)
            .execution_options(synchronize_session=False)
        )
    claimed = []
    for s in due:
        interval = intervals[s.id]
        lease = next_slot(now, interval, phase_of(s.topic, s.platform, s.query, interval))
        result = session.execute(
            update(Source)
            .where(
                Source.id == s.id,
                or_(Source.next_poll_at.is_(None), Source.next_poll_at == s.next_poll_at),
            )
            .values(next_poll_at=lease, last_polled_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(s.id)
    return claimed


def _poll_row(
    source: Source, now: datetime, health: str, fetched: int, new: int, detail: str | None
) -> PollRow:
    return PollRow(
        source_id=source.id,
        topic=source.topic,
        platform=source.platform,
        at=now,
        health=health,
        fetched=fetched,
        new=new,
        detail=detail[:2000] if detail else None,
    )


def record_poll_success(
    session: Session,
    source_id: int,
    now: datetime,
    *,
    fetched: int,
    new: int,
    next_poll_at: datetime | None = None,
    detail: str | None = None,
) -> None:
    """The poll finished caught up (or stopped at its page cap): ok, healthy, next slot."""
    source = session.get(Source, source_id)
    if source is None:
        return
    session.add(_poll_row(source, now, OK, fetched, new, detail))
    source.health = OK
    source.healthy = True
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    source.polls_ok += 1
    source.mentions_total += new
    if next_poll_at is not None:
        source.next_poll_at = next_poll_at


def record_poll_failure(
    session: Session,
    source_id: int,
    now: datetime,
    error: str,
    *,
    permanent: bool,
    retry_after_s: float | None,
    poll_seconds: int,
    health: str = "unavailable",
    fetched: int = 0,
    new: int = 0,
    retry_at: datetime | None = None,
) -> None:
    """Mark a source unhealthy and push its next poll back: after the reset for a rate limit
    (`retry_at`, else Retry-After), else exponential backoff; an hour for a permanent error.

    The poll is logged in `source_polls` with its health word, so a failure is never shown as ok;
    `fetched`/`new` count pages stored before the failure (a 429 in the middle of paging).
    """
    source = session.get(Source, source_id)
    if source is None:
        return
    session.add(_poll_row(source, now, health, fetched, new, error))
    source.health = health
    source.consecutive_failures += 1
    source.last_error = error[:2000]
    source.mentions_total += new
    # One transient failure is noise; a source is "down" (which turns its silence into
    # source_down and shows in the weekly proof-of-watch) after three in a row, or at once when
    # its credentials are refused or it failed for good.
    source.healthy = (
        not permanent and health != AUTH_FAILED and source.consecutive_failures < DOWN_AFTER
    )
    if retry_at is not None:
        delay = (retry_at - now).total_seconds()
    elif retry_after_s is not None:
        delay = retry_after_s
    else:
        backoff = poll_seconds * 2 ** min(source.consecutive_failures, 5)
        delay = min(backoff, 3600) * (0.9 + 0.2 * random.random())
    if permanent:
        delay = max(delay, 3600)
    if health == RATE_LIMITED:
        # The reset time is when the budget comes back; one second later it is certainly back.
        delay = max(delay + 1, 1)
    source.next_poll_at = now + timedelta(seconds=max(delay, 1))


_S = Source.__table__.c
# Built once, read column by column: every evaluation of every topic asks it.
_HEALTH = select(_S.platform, _S.healthy).where(
    _S.topic == bindparam("topic"), _S.enabled.is_(True)
)


def source_health(session: Session, topic: str) -> dict[str, bool]:
    """Per platform: is at least one of the topic's sources healthy? (see `record_poll_*`)"""
    health: dict[str, bool] = {}
    for platform, healthy in session.execute(_HEALTH, {"topic": topic}):
        health[platform] = health.get(platform, False) or bool(healthy)
    return health
