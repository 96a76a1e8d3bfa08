"""Rate limits are a budget, not an error: one row per credential, shared by every topic.

Before each request a poll *takes* one unit from the budget of its credentials; after the answer
it *observes* what the platform said (remaining, reset). A budget that is spent, or blocked by a
refusal, answers with the time it comes back, and the poll stops there: the worker never sleeps,
the source's next poll is put after the reset, and the pages already stored stay stored.

Two kinds of budget:
1. Read from headers (Mastodon, Bluesky, Reddit, X): `remaining` until `reset_at`, counted down
   locally between answers so that workers running side by side do not overshoot.
2. Kept by tocsin (Hacker News: 10,000 an hour; YouTube: 100 searches and 10,000 units a day,
   reset at midnight Pacific): `spent` in the current window.

The state is a database row (`source_budgets`), so it works on the embedded SQLite default
without Redis, and a conditional read-modify-write in the caller's transaction is the claim
(SQLite's BEGIN IMMEDIATE and PostgreSQL's row lock serialise competing workers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.model import RateLimit
from worker.storage.models import SourceBudget

#: When a platform refuses without saying until when, wait this long before asking again.
DEFAULT_BLOCK = timedelta(minutes=5)
PACIFIC = ZoneInfo("America/Los_Angeles")


def hour_window(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def pacific_day(now: datetime) -> tuple[datetime, datetime]:
    """YouTube's quota day: midnight to midnight in America/Los_Angeles."""
    local = now.astimezone(PACIFIC)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe next midnight
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class Budget:
    """Which budget a request spends: `key` names the credentials (never holds them).

    `limit` and `window` are set for budgets tocsin keeps itself; None means read from headers.
    """

    key: str
    platform: str
    limit: int | None = None
    window: Callable[[datetime], tuple[datetime, datetime]] | None = None

    @property
    def window_seconds(self) -> float | None:
        if self.window is None:
            return None
        start, end = self.window(datetime(2026, 1, 15, 12, tzinfo=UTC))
        return (end - start).total_seconds()


def _row(session: Session, budget: Budget, now: datetime) -> SourceBudget:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(SourceBudget)
        .values(key=budget.key, platform=budget.platform, spent=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.get(SourceBudget, budget.key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def take(session: Session, budget: Budget, now: datetime) -> datetime | None:
    """Spend one request. None when granted; otherwise the time the budget comes back."""
    row = _row(session, budget, now)
    if row.blocked_until is not None and row.blocked_until > now:
        return row.blocked_until
    if budget.limit is not None and budget.window is not None:
        start, end = budget.window(now)
        if row.window_start != start:
            row.window_start, row.spent = start, 0
        row.limit = budget.limit
        if row.spent >= budget.limit:
            row.blocked_until = end
            return end
        row.spent += 1
        row.remaining = budget.limit - row.spent
        row.reset_at = end
    else:
        if row.reset_at is not None and row.reset_at <= now:
            row.remaining = None  # a new window: unknown until the platform tells us
        if row.remaining is not None and row.remaining <= 0:
            return row.reset_at or now + DEFAULT_BLOCK
        if row.remaining is not None:
            row.remaining -= 1
        row.spent += 1
    row.updated_at = now
    return None


def observe(
    session: Session,
    budget: Budget,
    rl: RateLimit | None,
    now: datetime,
    *,
    refused: bool = False,
    until: datetime | None = None,
) -> datetime | None:
    """Record what the platform said. On a refusal, block the budget until the reset (or
    `until`, or DEFAULT_BLOCK when nobody said) and return that time."""
    row = _row(session, budget, now)
    if rl is not None and budget.limit is None:
        if rl.limit is not None:
            row.limit = rl.limit
        if rl.remaining is not None:
            row.remaining = rl.remaining
        if rl.reset_at is not None:
            row.reset_at = rl.reset_at
    row.updated_at = now
    if not refused:
        return None
    when = until
    if when is None and rl is not None:
        if rl.reset_at is not None:
            when = rl.reset_at
        elif rl.retry_after_s is not None:
            when = now + timedelta(seconds=rl.retry_after_s)
    if when is None or when <= now:
        when = now + DEFAULT_BLOCK
    row.blocked_until = when
    row.remaining = 0 if budget.limit is None else row.remaining
    return when
