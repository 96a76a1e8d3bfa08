"""TEMPORARY stand-in for `alerts.mention_list` (INTERFACES.md) until the `api` branch is
merged; removed then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.storage.models import MentionRow


@dataclass(frozen=True)
class MentionFilter:
    topic: str | None = None
    q: str | None = None
    platform: str | None = None
    lang: str | None = None
    label: str | None = None
    author: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class MentionPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_mentions(
    session: Session, f: MentionFilter, cursor: str | None = None, limit: int = 50
) -> MentionPage:
    stmt = select(MentionRow)
    for col, value in (
        (MentionRow.topic, f.topic),
        (MentionRow.platform, f.platform),
        (MentionRow.lang, f.lang),
        (MentionRow.label, f.label),
        (MentionRow.author, f.author),
    ):
        if value:
            stmt = stmt.where(col == value)
    if f.q:
        stmt = stmt.where(or_(MentionRow.text.contains(f.q)))
    if cursor:
        try:
            stmt = stmt.where(MentionRow.id < int(cursor))
        except ValueError:
            raise ValueError("bad cursor") from None
    rows = list(session.scalars(stmt.order_by(MentionRow.id.desc()).limit(limit + 1)))
    items = [
        {
            "id": r.id,
            "topic": r.topic,
            "platform": r.platform,
            "platform_id": r.external_id,
            "url": r.url,
            "author": r.author,
            "text": r.text,
            "lang": r.lang,
            "label": r.label,
            "score": r.polarity,
            "reach": r.author_followers,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows[:limit]
    ]
    return MentionPage(items, str(rows[limit - 1].id) if len(rows) > limit else None)
