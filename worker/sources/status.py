"""Each source's health, last success, next poll and remaining budget, as rows for people and
programs (`tocsin sources`, `GET /api/v1/sources`, the dashboard's sources page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def sources_with_budgets(session: Any, config: Any) -> list[tuple[Any, Any]]:
    """Each enabled source (ORM row, by topic then id) with its rate-limit budget row, if any."""
    from sqlalchemy import select

    from worker.sources import CONNECTORS
    from worker.sources.base import Query
    from worker.sources.settings import context_for
    from worker.storage.models import Source, SourceBudget

    budgets = {b.key: b for b in session.scalars(select(SourceBudget))}
    pairs = []
    for s in session.scalars(
        select(Source).where(Source.enabled.is_(True)).order_by(Source.topic, Source.id)
    ):
        budget_of = getattr(CONNECTORS.get(s.platform), "budget", None)
        b = None
        if budget_of is not None:
            key = budget_of(
                Query(s.topic, s.platform, s.query), context_for(config, s.platform)
            ).key
            b = budgets.get(key)
        pairs.append((s, b))
    return pairs


def source_rows(session: Any, config: Any) -> list[dict[str, Any]]:
    """One row per enabled source: health, last success, next poll, remaining budget."""
    return [
        {
            "topic": s.topic,
            "platform": s.platform,
            "query": s.query,
            "health": s.health,
            "healthy": s.healthy,
            "last_success": _iso(s.last_success_at),
            "next_poll": _iso(s.next_poll_at),
            "budget_remaining": b.remaining if b else None,
            "budget_reset": _iso(b.blocked_until or b.reset_at) if b else None,
            "detail": s.last_error or "",
        }
        for s, b in sources_with_budgets(session, config)
    ]


__all__ = ["source_rows", "sources_with_budgets"]
