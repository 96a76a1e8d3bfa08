"""Heartbeats: each periodic job leaves one row saying when it last ran and how long it took.

`record_heartbeat` is called in the job's own transaction (so a run that rolled back leaves no
beat); the dead man's switch (`alerts.deadman`), `/metrics` and `/healthz` read them. Because
they are rows, every process sees every other process's beats.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.storage.models import Heartbeat

#: The names the shipped jobs use.
EVALUATE = "evaluate"
ESCALATION_TICK = "escalation_tick"
DEADMAN = "deadman"


def record_heartbeat(
    session: Session,
    name: str,
    now: datetime,
    *,
    seconds: float | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Upsert the job's row: last run `now`, its duration, one more run."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, Any] = {
        "at": now,
        "seconds": seconds,
        "runs": 1,
        "detail": dict(detail or {}),
    }
    stmt = insert(Heartbeat).values(name=name, **values)
    update: dict[str, Any] = {"at": now, "seconds": seconds, "runs": Heartbeat.runs + 1}
    if detail is not None:
        update["detail"] = dict(detail)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))


def heartbeats(session: Session) -> dict[str, Heartbeat]:
    """Every job's last beat, by name."""
    return {h.name: h for h in session.scalars(select(Heartbeat))}
