"""TEMPORARY stand-ins for `alerts.auth` and `alerts.mention_list` (INTERFACES.md) until the
`auth` and `api` branches are merged; removed then."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.storage.models import MentionRow


class Role(enum.IntEnum):
    viewer = 1
    responder = 2
    admin = 3


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: str


class Auth:
    """Everyone on loopback is the local admin; `X-Standin-Role` lowers the role (tests)."""

    def principal(self, request: Request) -> Principal | None:
        role = Role[request.headers.get("x-standin-role", "admin")]
        return Principal("local", role, "local")

    def page(self, role: Role = Role.viewer) -> Callable[..., Principal]:
        def dep(request: Request) -> Principal:
            p = self.principal(request)
            if p is None or p.role < role:
                raise HTTPException(403, "not allowed")
            return p

        return dep

    api = page

    def csrf_token(self, request: Request) -> str:
        return "standin"

    def check_csrf(self, request: Request, token: str | None) -> None:
        if token != "standin":  # noqa: S105 - a stand-in, removed when auth is merged
            raise HTTPException(403, "bad csrf token")


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
