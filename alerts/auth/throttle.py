"""The login throttle: failed logins are rows of `login_attempts`, counted per account name (as
typed, case-folded) and per client address over a sliding window.

- An account name with `PER_NAME` failures within `WINDOW` (since its last successful login) is
  locked until the oldest of those failures leaves the window.
- A client address with `PER_CLIENT` failures within `WINDOW` is locked the same way (a success
  does not reset it: one valid account must not let an address guess at the others).
- While locked, the password is not even checked and the attempt is not recorded, so the lock
  ends on time and the answer does not depend on whether the password was right.

Unknown names are counted like known ones, so the throttle does not reveal which names exist.
Time is an argument; rows older than `WINDOW` are deleted as new attempts come in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from worker.storage.models import LoginAttempt

WINDOW = timedelta(minutes=15)
PER_NAME = 5
PER_CLIENT = 20


def key(name: str) -> str:
    return name.strip().casefold()[:200]


@dataclass(frozen=True)
class Lock:
    by: str  # "account" | "client"
    until: datetime


def locked(session: Session, name: str, client: str, now: datetime) -> Lock | None:
    """The lock in force for this name or this client address, if any."""
    since = now - WINDOW
    last_ok = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.name == key(name), LoginAttempt.ok.is_(True)
        )
    )
    name_since = max(since, last_ok) if last_ok is not None else since
    for by, column, value, start, limit in (
        ("account", LoginAttempt.name, key(name), name_since, PER_NAME),
        ("client", LoginAttempt.client, client[:100], since, PER_CLIENT),
    ):
        times = session.scalars(
            select(LoginAttempt.at)
            .where(column == value, LoginAttempt.ok.is_(False), LoginAttempt.at > start)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        ).all()
        if len(times) >= limit:
            return Lock(by, min(times) + WINDOW)
    return None


def record(session: Session, name: str, client: str, ok: bool, now: datetime) -> int:
    """Count one attempt (and forget those long out of the window); its row id."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - 2 * WINDOW))
    row = LoginAttempt(at=now, name=key(name), client=client[:100], ok=ok)
    session.add(row)
    session.flush()
    return row.id


def succeeded(session: Session, attempt_id: int) -> None:
    """An attempt recorded as failed before its password was checked turned out right."""
    session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(ok=True))


def failures(session: Session, name: str, now: datetime) -> int:
    """Failed attempts for this name within the window (for tests and `tocsin user list`)."""
    return int(
        session.scalar(
            select(func.count()).where(
                LoginAttempt.name == key(name),
                LoginAttempt.ok.is_(False),
                LoginAttempt.at > now - WINDOW,
            )
        )
        or 0
    )
